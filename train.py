"""Train a contextual RNN: ``python train.py [overrides] [-m sweep]``; see conf/train.yaml."""

import os
import sys
from pathlib import Path

import hydra

from contextual_rnn.training import arguments

CONFIG_DIR = Path(__file__).resolve().parent / "conf"


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg):
    from contextual_rnn.training.train import run  # imported here so that bad choices fail fast

    return run(cfg)


def command(argv: list[str]) -> None:
    """``python train.py <argv>``; a bad input ends it in one line with exit code 2."""
    # A W&B service inherited from a parent process (a notebook, a test runner) would hold
    # this run's id after a kill and refuse the resumed run: every run starts its own.
    os.environ.pop("WANDB_SERVICE", None)
    with arguments.hydra_errors_in_one_line():
        if "--explain" in argv:  # every value with the file it comes from
            from contextual_rnn.training.explain import explain

            print(explain([a for a in argv if a != "--explain"], CONFIG_DIR))
            sys.exit(0)
        sys.argv[1:] = arguments.flags_first(argv)
        main()


if __name__ == "__main__":
    command(sys.argv[1:])
