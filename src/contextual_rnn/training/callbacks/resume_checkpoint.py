"""The checkpoints a killed run resumes from, written only where resuming is exact.

Lightning restores a run exactly from a checkpoint taken after a training step in
the middle of an epoch. It does not from one taken after the last step of an epoch
or after a step that validation follows (the resumed run would skip that validation
or the epoch's end: its logged rows, the reset of its running metrics), nor from one
taken as an epoch starts (it counts the epoch twice). So this callback writes

- every ``every_n_train_steps`` steps, at the first step from there on that neither
  validation nor the end of an epoch follows;
- when training ends, with the final metrics, so that resuming a finished run
  changes nothing; callbacks with work in the background (a ``finish(trainer)``
  method: the trajectory figures) finish it first, so the checkpoint counts its rows.

Each file is written to a temporary name and renamed (never half-written), and only
the newest is kept. With it go the loggers' row counts: a resumed run cuts its logs
back to what existed at the checkpoint (``training.loggers``), so rows logged after
it and logged again are not doubled.
"""

import os
from pathlib import Path

import torch
from pytorch_lightning import Callback

from contextual_rnn.core.errors import PositiveInt, checked

SUFFIX = ".ckpt"


def validates_after(trainer, batch_idx: int) -> bool:
    """True when validation or the end of the epoch follows this training batch."""
    if batch_idx + 1 >= trainer.num_training_batches:
        return True
    interval = trainer.val_check_batch
    return isinstance(interval, int) and interval > 0 and (batch_idx + 1) % interval == 0


def readable(path: Path) -> int | None:
    """The global step of a checkpoint that loads, else None (a torn or foreign file)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a candidate
        return None


def newest(dirpath: str | Path) -> Path | None:
    """The newest readable resume checkpoint in ``dirpath`` (by its sequence number)."""
    candidates = sorted(Path(dirpath).glob(f"*{SUFFIX}"), key=sequence, reverse=True)
    return next((p for p in candidates if readable(p) is not None), None)


def sequence(path: Path) -> int:
    stem = path.stem.split("-")[0]
    return int(stem) if stem.isdigit() else -1


class ResumeCheckpoint(Callback):
    @checked
    def __init__(self, dirpath: str, every_n_train_steps: PositiveInt = 100):
        self.dirpath = Path(dirpath)
        self.every = every_n_train_steps
        self.count = 0  # checkpoints written by this run, resumed attempts included
        self.last_step = 0  # the step of the newest one
        self.final_metrics: dict[str, float] | None = None  # restored from a finished run
        self._trainer = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._trainer = trainer

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        due = trainer.global_step - self.last_step >= self.every
        if due and not validates_after(trainer, batch_idx):
            self.last_step = trainer.global_step
            self.save(trainer, f"step{trainer.global_step}")

    def on_train_end(self, trainer, pl_module):
        for callback in trainer.callbacks:  # work still in the background goes in first
            if callback is not self and hasattr(callback, "finish"):
                callback.finish(trainer)
        self.final_metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        self.save(trainer, "end")

    def save(self, trainer, label: str) -> None:
        """Write atomically, then drop the older ones (rank 0 writes; all ranks take part)."""
        self.count += 1
        path = self.dirpath / f"{self.count:06d}-{label}{SUFFIX}"
        for logger in trainer.loggers:  # rows logged so far go to disk before the count is taken
            logger.save()
        partial = path.with_name(f".{path.name}.partial")
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            os.replace(partial, path)
            for old in self.dirpath.glob(f"*{SUFFIX}"):
                if sequence(old) < self.count:
                    old.unlink(missing_ok=True)

    def state_dict(self) -> dict:
        trainer = self._trainer
        rows = {}
        for logger in trainer.loggers if trainer is not None else ():
            if hasattr(logger, "rows"):
                rows[type(logger).__name__] = logger.rows
        return {
            "count": self.count,
            "last_step": self.last_step,
            "rows": rows,
            "final_metrics": self.final_metrics,
        }

    def load_state_dict(self, state: dict) -> None:
        """Called as a run resumes, after setup: the loggers forget rows after the checkpoint."""
        self.count, self.last_step = state["count"], state["last_step"]
        self.final_metrics = state.get("final_metrics")
        rows = state.get("rows", {})
        for logger in self._trainer.loggers if self._trainer is not None else ():
            if type(logger).__name__ in rows:
                logger.rewind(rows[type(logger).__name__])
