"""Break a run on purpose at a named point (added with +callbacks.fault=...).

``how: kill`` sends SIGKILL to the process (nothing is flushed or cleaned up); ``how:
raise`` raises ``Injected``, a BaseException that no handler of the project catches,
so an in-process test sees the run stop where a crash would stop it.

Points (``at`` counts from 1 where noted):
- ``train_step``: after the optimizer step that makes ``global_step == at``;
- ``validation``: after the ``at``-th validation batch of the run (mid-validation);
- ``epoch_start``: as epoch ``at`` starts, after the callbacks before this one ran
  (the resume checkpoint of that epoch is written);
- ``checkpoint``: while the ``at``-th checkpoint is being assembled, before its file
  is written;
- ``report``: after training ended and its last checkpoint was written, before the
  run's metrics and status are.
"""

import os
import signal

import torch
from pytorch_lightning import Callback

POINTS = ("train_step", "validation", "epoch_start", "checkpoint", "report")


class Injected(BaseException):
    """The fault this module injects."""


class Fault(Callback):
    def __init__(self, point: str, at: int, how: str = "kill"):
        assert point in POINTS and how in ("kill", "raise")
        self.point, self.at, self.how = point, at, how
        self.seen = 0

    def fire(self) -> None:
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise Injected(f"fault injected at {self.point} {self.at}")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.point == "train_step" and trainer.global_step == self.at:
            self.fire()

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        if self.point == "validation" and not trainer.sanity_checking:
            self.seen += 1
            if self.seen == self.at:
                self.fire()

    def on_train_epoch_start(self, trainer, pl_module):
        if self.point == "epoch_start" and trainer.current_epoch == self.at:
            self.fire()

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        if self.point == "checkpoint":
            self.seen += 1
            if self.seen == self.at:
                self.fire()

    def teardown(self, trainer, pl_module, stage):
        if self.point == "report" and stage == "fit":
            self.fire()


class PoisonAtStep(Callback):
    """Put a NaN into the weights after training step ``step``: the next loss is NaN."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.parameters()).view(-1)[0] = float("nan")
