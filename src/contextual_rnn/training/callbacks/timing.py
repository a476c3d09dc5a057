"""Seconds since the run started, wall and CPU, logged with every validation.

``time/wall_s`` is what a user waits; ``time/cpu_s`` (this process's user + system
time) is less sensitive to other work sharing the machine. Both count from the
start of fitting and continue across a resume (the elapsed time is checkpointed).
"""

import time

from pytorch_lightning import Callback


class Timing(Callback):
    def __init__(self):
        self.before = {"wall": 0.0, "cpu": 0.0}  # elapsed in earlier attempts
        self.started = {"wall": 0.0, "cpu": 0.0}

    @staticmethod
    def clocks() -> dict[str, float]:
        return {"wall": time.perf_counter(), "cpu": time.process_time()}

    def on_fit_start(self, trainer, pl_module):
        self.started = self.clocks()

    def elapsed(self) -> dict[str, float]:
        now = self.clocks()
        return {k: self.before[k] + now[k] - self.started[k] for k in now}

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        for name, value in self.elapsed().items():
            pl_module.log(f"time/{name}_s", value, on_epoch=True, sync_dist=False)

    def state_dict(self) -> dict:
        return {"elapsed": self.elapsed()}

    def load_state_dict(self, state: dict) -> None:
        self.before = dict(state["elapsed"])
        self.started = self.clocks()
