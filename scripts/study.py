"""Run the paper's study end to end; see contextual_rnn/study.py or ``--help``.

python scripts/study.py --art-epochs 3 --lcd-epochs 65     # outputs/study/<time>/
python scripts/study.py --dry-run                          # print the commands only
"""

from contextual_rnn.analysis.study import main

if __name__ == "__main__":
    main()
