"""When a run first reaches each threshold of a metric, in epochs and wall seconds.

After every validation, the first time ``metric`` reaches a threshold (``>=``), the
epochs trained so far (fractional: steps / steps per epoch) and the seconds of
training (Lightning's ``Timer``, here ``Timing``, when the run has one) go to W&B's
summary as ``<metric>/epochs_to_<threshold>`` and ``<metric>/seconds_to_<threshold>``,
so a dashboard can sort runs by them. The values are checkpointed: a resumed run
keeps them and writes them into its summary again.
"""

from typing import Annotated

from annotated_types import Ge, Le, MinLen
from pytorch_lightning import Callback
from pytorch_lightning.callbacks import Timer

from contextual_rnn.core.errors import allowed, checked
from contextual_rnn.training.loggers import update_summary


class Milestones(Callback):
    @checked
    def __init__(
        self,
        metric: str = "val/acc",
        thresholds: Annotated[
            list[Annotated[float, Ge(0), Le(1)]],
            MinLen(1),
            allowed("a non-empty list of accuracies in [0, 1]"),
        ] = (0.9, 0.99, 0.999),
    ):
        self.metric, self.thresholds = metric, [float(t) for t in thresholds]
        self.reached: dict[str, float] = {}

    def on_validation_epoch_end(self, trainer, pl_module):
        value = trainer.callback_metrics.get(self.metric)
        if trainer.sanity_checking or value is None:
            return
        epochs = trainer.global_step / max(1, trainer.num_training_batches)
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        for threshold in self.thresholds:
            key = f"{self.metric}/epochs_to_{threshold:g}"
            if key not in self.reached and float(value) >= threshold:
                self.reached[key] = round(epochs, 4)
                if timer is not None:
                    seconds = round(timer.time_elapsed("train"), 2)
                    self.reached[key.replace("epochs_to", "seconds_to")] = seconds
        self.publish(trainer)

    def on_train_start(self, trainer, pl_module):
        self.publish(trainer)  # a resumed attempt's summary holds them too

    def publish(self, trainer) -> None:
        if self.reached:
            update_summary(trainer, self.reached)

    def state_dict(self) -> dict:
        return {"reached": dict(self.reached)}

    def load_state_dict(self, state: dict) -> None:
        self.reached = dict(state["reached"])
