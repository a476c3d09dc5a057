"""When a run first reaches each threshold of a metric, in epochs and wall seconds.

After every validation, the first time ``metric`` reaches a threshold (``>=``), the
epochs trained so far (fractional: steps / steps per epoch) and the seconds since the
run started go to W&B's summary as ``<metric>/epochs_to_<threshold>`` and
``<metric>/seconds_to_<threshold>``, so a dashboard can sort runs by them. The
values are checkpointed: a resumed run keeps them.
"""

import time
from typing import Annotated

from annotated_types import MinLen
from pytorch_lightning import Callback

from contextual_rnn.core.errors import allowed, checked


class Milestones(Callback):
    @checked
    def __init__(
        self,
        metric: str = "val/acc",
        thresholds: Annotated[list[float], MinLen(1), allowed("a non-empty list")] = (
            0.9,
            0.99,
            0.999,
        ),
    ):
        self.metric, self.thresholds = metric, [float(t) for t in thresholds]
        self.reached: dict[str, float] = {}
        self.started, self.before = 0.0, 0.0

    def on_fit_start(self, trainer, pl_module):
        self.started = time.perf_counter()

    def on_validation_epoch_end(self, trainer, pl_module):
        value = trainer.callback_metrics.get(self.metric)
        if trainer.sanity_checking or value is None:
            return
        epochs = (trainer.global_step) / max(1, trainer.num_training_batches)
        seconds = self.before + time.perf_counter() - self.started
        for threshold in self.thresholds:
            key = f"{self.metric}/epochs_to_{threshold:g}"
            if key not in self.reached and float(value) >= threshold:
                self.reached[key] = round(epochs, 4)
                self.reached[key.replace("epochs_to", "seconds_to")] = round(seconds, 2)
        self.publish(trainer)

    def publish(self, trainer) -> None:
        for logger in trainer.loggers:
            if hasattr(logger, "update_summary") and self.reached:
                logger.update_summary(self.reached)

    def state_dict(self) -> dict:
        return {
            "reached": dict(self.reached),
            "seconds": self.before + time.perf_counter() - self.started,
        }

    def load_state_dict(self, state: dict) -> None:
        self.reached = dict(state["reached"])
        self.before = state["seconds"]
