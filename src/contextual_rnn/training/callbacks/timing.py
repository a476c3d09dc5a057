"""Seconds since training started, wall and CPU, logged with every validation.

``time/wall_s`` is what a user waits: Lightning's ``Timer`` measures it and checkpoints
it, so it continues across a resume. ``time/cpu_s`` (this process's user + system
time) is less sensitive to other work sharing the machine; it is kept the same way.
"""

import time

from pytorch_lightning.callbacks import Timer


class Timing(Timer):
    def __init__(self):
        super().__init__(duration=None, verbose=False)
        self.cpu_before = 0.0  # CPU seconds of earlier attempts
        self.cpu_started = time.process_time()

    def on_train_start(self, trainer, pl_module):
        super().on_train_start(trainer, pl_module)
        self.cpu_started = time.process_time()

    def cpu_seconds(self) -> float:
        return self.cpu_before + time.process_time() - self.cpu_started

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            pl_module.log("time/wall_s", self.time_elapsed("train"), on_epoch=True)
            pl_module.log("time/cpu_s", self.cpu_seconds(), on_epoch=True)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "cpu_s": self.cpu_seconds()}

    def load_state_dict(self, state: dict) -> None:
        if "elapsed" in state:  # a checkpoint from before Timing was a Timer
            state = {"time_elapsed": {"train": state["elapsed"]["wall"]}, **state}
            state["cpu_s"] = state["elapsed"]["cpu"]
        super().load_state_dict(state)
        self.cpu_before = state["cpu_s"]
