"""Callbacks that break a run on purpose at a chosen step (used from subprocess runs)."""

import os
import signal

import torch
from pytorch_lightning import Callback


class KillAtStep(Callback):
    """SIGKILL this process right after training step ``step`` (before its checkpoint)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PoisonAtStep(Callback):
    """Put a NaN into the weights after training step ``step``: the next loss is NaN."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.parameters()).view(-1)[0] = float("nan")
