"""Train a contextual RNN: ``python train.py [overrides] [-m sweep]``; see conf/train.yaml.

The same command as an installed package's ``python -m contextual_rnn.train``.
"""

from contextual_rnn.train import command

if __name__ == "__main__":
    command()
