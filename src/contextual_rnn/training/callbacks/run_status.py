"""How a run ended, recorded where a user looks: ``status.json`` in the run folder and W&B.

``finished`` (with the epochs trained and whether a callback stopped it early),
``interrupted`` (Ctrl-C, SIGTERM) or ``failed`` (a NaN loss or any other error), with the
reason in one line. W&B gets the same in the run's summary (``status``,
``status_reason``) and a non-zero exit code, so its dashboard shows the run as failed.
``summaries`` (metric -> ``min`` or ``max``) sets the summary W&B keeps for a metric: the
best value, which a dashboard sorts runs by, instead of the last one.
A resumed run reads ``status.json`` to tell a finished run from an unfinished one.

This callback records what stops training; ``training.train`` records ``finished``
once the run's metrics are written, so that a run killed in between is not taken for
a finished one.
"""

import json
from pathlib import Path
from typing import Literal

from pytorch_lightning import Callback

from contextual_rnn.core.errors import checked, one_line
from contextual_rnn.core.files import write_atomically
from contextual_rnn.training.loggers import define_summaries, update_summary

STATUS = "status.json"


def read_status(output_dir: str | Path) -> dict:
    path = Path(output_dir) / STATUS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_status(output_dir: str | Path, status: dict) -> None:
    write_atomically(Path(output_dir) / STATUS, json.dumps(status, indent=1) + "\n")


def entry(trainer, status: str, reason: str = "", **extra) -> dict:
    return {
        "status": status,
        "reason": reason,
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        **extra,
    }


def finished_status(trainer) -> dict:
    """The ``finished`` entry for a trainer whose fit returned."""
    limit = trainer.max_epochs
    stopped = limit is not None and limit >= 0 and trainer.current_epoch < limit
    return entry(trainer, "finished", max_epochs=limit, stopped_early=bool(stopped))


class RunStatus(Callback):
    @checked
    def __init__(self, summaries: dict[str, Literal["min", "max"]] | None = None):
        self.summaries = dict(summaries or {})

    def setup(self, trainer, pl_module, stage: str) -> None:
        define_summaries(trainer, self.summaries)  # the loggers' runs have started

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if not trainer.is_global_zero:
            return
        interrupted = isinstance(exception, KeyboardInterrupt) or trainer.received_sigterm
        status, reason = "interrupted" if interrupted else "failed", one_line(exception)
        write_status(trainer.default_root_dir, entry(trainer, status, reason))
        update_summary(trainer, {"status": status, "status_reason": reason})
