"""What the loggers need to continue a resumed run, and the W&B run's summary.

- Lightning's CSVLogger: a resumed run keeps its ``metrics.csv`` (``start_loggers``),
  which the resume checkpoint cuts back to the rows it covers (``keep_rows_before``).
  The CSV log is the exact record of a run.
- W&B (Lightning's WandbLogger) continues the W&B run its folder already holds: built
  with that run's id (``wandb_resume``) and W&B's own ``resume="allow"``, a resumed
  attempt logs again, under the same ``trainer/global_step``, what followed its
  checkpoint. A W&B folder that cannot be written is refused before training (wandb
  would silently write to a temporary folder); a W&B call that fails mid-run fails the
  run, whose CSV log keeps every metric logged until then.
"""

import csv
import io
import logging
import os
import secrets
import string
import warnings
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities import rank_zero_only

from contextual_rnn.config import unwritable
from contextual_rnn.files import write_atomically


def wandb_resume(node) -> dict:
    """For a W&B logger's config node: the id of the W&B run its folder holds (W&B names
    its file ``run-<id>.wandb``), or a new one (8 base-36 digits, as W&B's), unless the
    node sets its own; after the check that W&B can write there."""
    if not str(node.get("_target_")).endswith("WandbLogger") or node.get("id"):
        return {}
    folder = Path(node.get("save_dir") or ".")
    if error := unwritable(folder):
        raise error
    files = folder.glob("wandb/*run-*/run-*.wandb")
    held = next((path.stem.removeprefix("run-") for path in files), None)
    new = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return {"id": held or new}


def wandb_loggers(trainer) -> list[WandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


@rank_zero_only
def define_summaries(trainer, summaries: dict[str, str]) -> None:
    """metric -> "min" or "max": the summary W&B keeps for it (the best value, which a
    dashboard sorts runs by) instead of the last one."""
    for logger in wandb_loggers(trainer):
        for metric, summary in summaries.items():
            logger.experiment.define_metric(metric, summary=summary)


@rank_zero_only
def update_summary(trainer, values: dict) -> None:
    """Values a dashboard sorts and filters runs by (milestones, how the run ended)."""
    for logger in wandb_loggers(trainer):
        logger.experiment.summary.update(values)


@rank_zero_only
def finish_wandb(trainer, exit_code: int) -> None:
    """Finish the W&B run (``exit_code`` 1: W&B shows it as failed), so that the next job
    of a multirun starts its own, and wait for W&B's process to write it to disk
    (``finish`` returns before it has)."""
    import wandb

    loggers = wandb_loggers(trainer)
    for logger in loggers:
        logger.experiment.finish(exit_code=exit_code)
    if loggers:
        wandb.teardown()


@rank_zero_only
def start_loggers(trainer) -> None:
    """Start each logger's experiment (a W&B run that cannot start has nothing to finish).
    Lightning's CSV writer deletes the ``metrics.csv`` it finds as it starts: a resumed
    run's is set aside meanwhile (where a kill in between leaves it for the next attempt)
    and put back, for the resume checkpoint to cut (``keep_rows_before``)."""
    if wandb_loggers(trainer):
        import wandb

        # W&B's terminal output set up (WANDB_SILENT) before wandb.init, which warns about
        # Lightning's anonymous=None before setting it up itself
        wandb.setup()
    for logger in trainer.loggers:
        if not isinstance(logger, CSVLogger):
            _ = logger.experiment
            continue
        path = Path(logger.log_dir) / ExperimentWriter.NAME_METRICS_FILE
        aside = path.with_name(f".{path.name}.kept")
        if path.is_file() and not aside.exists():
            path.replace(aside)
        with warnings.catch_warnings():  # that it will delete the files there: not this one
            warnings.filterwarnings("ignore", "Experiment logs directory .* is not empty")
            _ = logger.experiment
        if aside.is_file():
            aside.replace(path)


def keep_rows_before(logger: CSVLogger, step: int) -> None:
    """Cut the logger's ``metrics.csv`` back to its complete rows logged below ``step`` (a
    row torn by a kill is the last one, written after any checkpoint: it goes too)."""
    writer = logger.experiment
    path = Path(writer.metrics_file_path)
    if not path.is_file():
        return
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        rows = [r for r in reader if None not in r.values() and int(r["step"]) < step]
    writer.metrics_keys = list(reader.fieldnames or []) if rows else []
    if not rows:
        path.unlink()
        return
    kept = io.StringIO()
    csv_writer = csv.DictWriter(kept, fieldnames=writer.metrics_keys)
    csv_writer.writeheader()
    csv_writer.writerows(rows)
    write_atomically(path, kept.getvalue())


# What a run prints: by default the progress bar, the run folder, the final metrics and
# what to do next; ``hydra.verbose=true`` adds the libraries' own messages back.
#
# Quiet means Lightning's info lines (devices found, seed set, tips, why fitting stopped),
# W&B's terminal output (``WANDB_SILENT``; the run's own report names the W&B run and its
# ``wandb sync`` command) and the library warnings below, which every run would repeat and
# no setting of this project can act on. Other warnings are still shown.
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
