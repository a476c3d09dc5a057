"""Validate more often early in a run: every ``every`` of an epoch for the first epochs.

A classification task like ART can go from chance to 100% within an epoch or two;
validating every quarter epoch there resolves when a threshold is crossed, and
validating once an epoch afterwards costs little. Lightning's ``val_check_interval``
is fixed for a run, so this sets the trainer's check interval at every epoch start
(and as training starts, for a run resumed mid-epoch).
"""

from annotated_types import Gt, Le
from pytorch_lightning import Callback

from contextual_rnn.core.errors import PositiveInt, checked, number


class ValidationSchedule(Callback):
    @checked
    def __init__(
        self,
        every: number("a fraction of an epoch in (0, 1]", Gt(0), Le(1)) = 0.25,
        first_epochs: PositiveInt = 4,
    ):
        self.every, self.first_epochs = float(every), first_epochs

    def apply(self, trainer) -> None:
        batches = trainer.num_training_batches
        if not isinstance(batches, int) or batches < 1:
            return
        fraction = self.every if trainer.current_epoch < self.first_epochs else 1.0
        trainer.val_check_batch = max(1, int(batches * fraction))

    def on_train_start(self, trainer, pl_module):
        self.apply(trainer)

    def on_train_epoch_start(self, trainer, pl_module):
        self.apply(trainer)
