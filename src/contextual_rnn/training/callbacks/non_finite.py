"""Stop at the first non-finite training loss, before it reaches the weights.

The check runs before backward, so no optimizer step is taken with it and no
checkpoint is written after it: the last checkpoint on disk is the last good one.
"""

import torch
from pytorch_lightning import Callback


class NonFiniteLoss(RuntimeError):
    def __init__(self, value: float, step: int, epoch: int, batch: int):
        self.value, self.step, self.epoch, self.batch = value, step, epoch, batch
        super().__init__(
            f"training loss is {value} at step {step} (epoch {epoch}, batch {batch}); "
            "stopped before the update"
        )


class StopOnNonFiniteLoss(Callback):
    def __init__(self):
        self._batch = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._batch = batch_idx

    def on_before_backward(self, trainer, pl_module, loss):
        if not torch.isfinite(loss).all():
            raise NonFiniteLoss(
                loss.item(), trainer.global_step, trainer.current_epoch, self._batch
            )
