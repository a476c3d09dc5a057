"""Tables, figures and statistics of finished runs (``--help``; docs/results.md shows one).

python scripts/aggregate.py outputs/study/<time> --out outputs/study/<time>/aggregate
"""

from contextual_rnn.analysis.report import main

if __name__ == "__main__":
    main()
