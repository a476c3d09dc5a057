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
    config_dir = Path(__file__).resolve().parent / CONFIG_DIR
    arguments.check_arguments(sys.argv[1:], config_dir)
    if "--explain" in sys.argv[1:]:  # every value with the file it comes from
        from contextual_rnn.training.explain import explain

        print(explain([a for a in sys.argv[1:] if a != "--explain"], config_dir))
        sys.exit(0)
    sys.argv[1:] = arguments.flags_first(sys.argv[1:])
    main()
