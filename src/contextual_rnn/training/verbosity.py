"""What a run prints: by default the progress bar, the run folder, the final metrics and
what to do next; ``hydra.verbose=true`` adds the libraries' own messages back.

Quiet means Lightning's info lines (devices found, seed set, tips, why fitting stopped),
W&B's terminal output (``WANDB_SILENT``; the run's own report names the W&B run and its
``wandb sync`` command) and the library warnings below, which every run would repeat and
no setting of this project can act on. Other warnings are still shown.
"""

import logging
import os
import warnings

LIBRARY_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning")
ROUTINE_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",  # torch, about Lightning's code
    r"The number of training batches \(\d+\) is smaller than the logging interval",
)


def quiet_libraries() -> None:
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in ROUTINE_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    os.environ.setdefault("WANDB_SILENT", "true")  # WANDB_SILENT=false keeps W&B's output
