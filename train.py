"""Train a contextual RNN: ``python train.py [overrides] [-m sweep]``; see conf/train.yaml."""

import os
import sys
from pathlib import Path

import hydra

from contextual_rnn.training import arguments

CONFIG_DIR = "conf"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg):
    from contextual_rnn.training.train import run  # imported here so that bad choices fail fast

    return run(cfg)


if __name__ == "__main__":
    # A W&B service inherited from a parent process (a notebook, a test runner) would hold
    # this run's id after a kill and refuse the resumed run: every run starts its own.
    os.environ.pop("WANDB_SERVICE", None)
    arguments.check_arguments(sys.argv[1:], Path(__file__).parent / CONFIG_DIR)
    sys.argv[1:] = arguments.flags_first(sys.argv[1:])
    main()
