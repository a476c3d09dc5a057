"""Run a study end to end; its sweeps and epoch options are in conf/study.yaml.

python scripts/study.py --help                               # the sweeps and their options
python scripts/study.py --seeds 0,1 --out outputs/study/two  # rerun the same to continue
python scripts/study.py --dry-run                            # print the commands only
"""

from contextual_rnn.analysis.study import main

if __name__ == "__main__":
    main()
