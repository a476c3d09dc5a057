"""Train a contextual RNN: ``python -m contextual_rnn.train [overrides] [-m sweep]``.

The one training command: ``python train.py`` in a checkout and ``contextual-rnn-train``
are this module. Its config is the package's (``pkg://contextual_rnn.conf``: conf/ of the
repository, a copy in an installed wheel), so it trains from any directory and writes
its runs under that directory's ``outputs/``; see conf/train.yaml.
"""

import os
import sys

import hydra

from contextual_rnn.training import arguments
from contextual_rnn.training.compose import CONFIG_PACKAGE


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_PACKAGE}", config_name="train")
def main(cfg):
    from contextual_rnn.training.train import run  # imported here so that bad choices fail fast

    return run(cfg)


def command(argv: list[str] | None = None) -> None:
    """The command with ``argv`` (default: this process's); a bad input ends it in one line
    with exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    # A W&B service inherited from a parent process (a notebook, a test runner) would hold
    # this run's id after a kill and refuse the resumed run: every run starts its own.
    os.environ.pop("WANDB_SERVICE", None)
    with arguments.hydra_errors_in_one_line():
        sys.argv[1:] = arguments.flags_first(argv)
        try:
            main()
        except KeyboardInterrupt:  # a multirun's Ctrl-C (its jobs have said where they stopped)
            print("error: interrupted; the same command continues it", file=sys.stderr)
            sys.exit(130)


if __name__ == "__main__":
    command()
