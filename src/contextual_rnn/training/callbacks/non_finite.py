"""Stop at the first non-finite training loss, before it reaches the weights.

The check runs before backward, so no optimizer step is taken with it and no
checkpoint is written after it: the last checkpoint on disk is the last good one.
"""

import torch
from pytorch_lightning import Callback


class NonFiniteLoss(RuntimeError):
    pass


class StopOnNonFiniteLoss(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.batch = batch_idx  # on_before_backward is not told it

    def on_before_backward(self, trainer, pl_module, loss):
        if not torch.isfinite(loss).all():
            raise NonFiniteLoss(
                f"training loss is {loss.item()} at step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}, batch {self.batch}); stopped before the update"
            )
