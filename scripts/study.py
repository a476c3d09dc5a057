"""Run a study end to end (``--help``; its sweeps: conf/study.yaml).

python scripts/study.py --art-epochs 3 --lcd-epochs 65     # outputs/study/<time>/
python scripts/study.py --dry-run                          # print the commands only
"""

from contextual_rnn.analysis.study import main

if __name__ == "__main__":
    main()
