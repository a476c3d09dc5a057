"""Paper-style figures and tables from finished runs; see contextual_rnn/aggregate.py.

python scripts/aggregate.py outputs/study/<time> --out docs/figures
"""

from contextual_rnn.analysis.aggregate import main

if __name__ == "__main__":
    main()
