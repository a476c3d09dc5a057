"""Train a contextual RNN: ``python train.py [overrides] [-m sweep]``; see conf/train.yaml."""

import sys
from pathlib import Path

import hydra

from contextual_rnn.overrides import check_group_choices, flags_first

CONFIG_DIR = "conf"


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg):
    from contextual_rnn.train import run  # imported here so that bad choices fail fast

    return run(cfg)


if __name__ == "__main__":
    check_group_choices(sys.argv[1:], Path(__file__).parent / CONFIG_DIR)
    sys.argv[1:] = flags_first(sys.argv[1:])
    main()
