"""Sampled trajectory fans of a generative task (the paper's Fig. 6), every ``every_n_epochs``.

For each of the task's figure examples: ``num_samples`` sampled initial states rolled out
from the start value, saved as a PNG and logged to W&B as an image
(``val/trajectories/<example>``) and as data (``val/trajectories/table``) at the
validations of every ``every_n_epochs``-th epoch. When training ends, the PNGs are redrawn
for the trained model if its last validated epoch was not one of those (on disk only, so
that a finished run continued equals one trained that long). Four fans cost nearly an
LCD training epoch (docs/performance.md). The samples come from the callback's own
stream, seeded by (seed, epoch): how often figures are drawn changes no training number.

``background`` (docs/performance.md): ``true`` draws the PNGs in a spawned low-priority
worker process (in a thread, matplotlib would fight training for the GIL); their W&B
images are logged at the next validation at the step they were drawn at, and the fans
not yet logged are checkpointed, so a resumed run logs what an uninterrupted one does.
``auto`` draws in the background on an accelerator only. The worker ignores Ctrl-C and
ends when the training process is gone; like every spawned process it imports the main
module, so a script calling ``train`` needs the ``if __name__ == "__main__":`` guard.
"""

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Literal

import torch
from pydantic import StrictBool
from pytorch_lightning import Callback

from contextual_rnn.core.errors import PositiveInt, allowed, checked
from contextual_rnn.core.figures import FanFigure
from contextual_rnn.training.loggers import wandb_loggers

SUMMARY_COLUMNS = ["epoch", "example", "t", "truth", "mean", "std"]
WORKER_FIGURE: list[FanFigure] = []  # the drawing worker's one figure, reused for every fan


def start_worker(parent: int) -> None:
    """Training first, Ctrl-C is the parent's, and the worker ends when its parent does."""
    if hasattr(os, "nice"):
        os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    WORKER_FIGURE.append(FanFigure())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def draw_in_worker(samples, truth, title: str, path: str) -> None:
    WORKER_FIGURE[0].draw(samples, truth, title)
    WORKER_FIGURE[0].save(path)


def drawing_pool() -> ProcessPoolExecutor:
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter, not a fork
    return ProcessPoolExecutor(1, spawn, initializer=start_worker, initargs=(os.getpid(),))


@contextlib.contextmanager
def worker_alive():
    try:
        yield
    except BrokenProcessPool:
        raise RuntimeError("the figure process ended unexpectedly") from None


def submit_fan(pool: ProcessPoolExecutor, *args) -> Future:
    with worker_alive():
        return pool.submit(draw_in_worker, *args)


def wait_for(futures: list[Future]) -> None:
    """Wait for every fan; then raise the first failure (the worker's OSError as it was)."""
    with worker_alive():
        for future in futures:
            future.exception()  # waits
        for future in futures:
            future.result()


class TrajectoryFigures(Callback):
    @checked
    def __init__(
        self,
        dirpath: str,
        num_samples: PositiveInt = 10,
        every_n_epochs: PositiveInt = 1,
        seed: int = 0,
        background: Annotated[
            StrictBool | Literal["auto"], allowed("true, false or auto")
        ] = "auto",
    ):
        self.dirpath = Path(dirpath)
        self.num_samples, self.every_n_epochs = num_samples, every_n_epochs
        self.seed, self.background = seed, background
        self.pending: list[dict] = []  # fans drawn or being drawn, not yet logged to W&B
        self.sent = 0  # how many of them are drawn or with the drawing worker
        self.pool: ProcessPoolExecutor | None = None
        self.drawing: list[Future] = []  # the worker's fans not waited for
        self.figure: FanFigure | None = None
        self.last_validated: int | None = None  # the epoch of the latest validation

    def setup(self, trainer, pl_module, stage: str) -> None:
        if self.background == "auto":
            self.background = trainer.strategy.root_device.type != "cpu"

    def samples(self, pl_module, conditions, epoch: int) -> torch.Tensor:
        """Rollouts drawn from this callback's own stream; the global RNG is restored after."""
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed * 1_000_003 + epoch)
            return pl_module.rollout(conditions, sample=True, num_samples=self.num_samples).cpu()

    def fans(self, trainer, pl_module, epoch: int) -> list[dict]:
        """The fans of ``epoch``'s stream from the module as it is now, one per example."""
        task, raw = pl_module.task, trainer.datamodule.raw["val"]
        index = task.figure_examples(raw)
        conditions = {k: v[index] for k, v in task.conditions(raw).items()}
        samples = self.samples(pl_module, conditions, epoch)
        truth = task.truth(conditions, samples.shape[-1] - 1).to(samples)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        return [
            {
                "key": f"val/trajectories/{task.example_name(conditions, row)}",
                "path": str(
                    self.dirpath / f"trajectories_{task.example_name(conditions, row)}.png"
                ),
                "step": trainer.global_step,
                "samples": fan,
                "truth": true,
                "title": f"{task.describe(conditions, row)}, epoch {epoch}",
            }
            for row, (fan, true) in enumerate(zip(samples, truth, strict=True))
        ]

    def on_validation_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch
        if trainer.sanity_checking or not hasattr(pl_module, "rollout"):
            return
        self.last_validated = epoch
        if epoch % self.every_n_epochs != 0 or not trainer.is_global_zero:
            return
        self.log_pending(trainer)  # the previous validation's fans
        fans = self.fans(trainer, pl_module, epoch)
        self.pending += fans
        rows = []
        for fan in fans:
            true, samples = fan["truth"], fan["samples"]
            columns = torch.stack([true, samples.mean(0), samples.std(0), *samples], dim=1)
            name = fan["key"].removeprefix("val/trajectories/")
            rows += [[epoch, name, t, *values] for t, values in enumerate(columns.tolist())]
        self.send_pending()
        columns = SUMMARY_COLUMNS + [f"sample_{s}" for s in range(self.num_samples)]
        for logger in wandb_loggers(trainer):
            logger.log_table("val/trajectories/table", columns, rows, step=trainer.global_step)
        if not self.background:
            self.log_pending(trainer)

    def send_pending(self) -> None:
        """Draw the fans not drawn yet: hand them to the drawing process, or draw them now."""
        for fan in self.pending[self.sent :]:
            args = (fan["samples"].numpy(), fan["truth"].numpy(), fan["title"], fan["path"])
            if self.background:
                self.pool = self.pool or drawing_pool()
                self.drawing.append(submit_fan(self.pool, *args))
            else:
                self.figure = self.figure or FanFigure()
                self.figure.draw(*args[:3])
                self.figure.save(args[3])
        self.sent = len(self.pending)

    def log_pending(self, trainer) -> None:
        """Wait for the pending fans' PNGs and log them to W&B at the steps they were drawn."""
        if not self.pending:
            return
        self.send_pending()  # those restored from a checkpoint
        drawing, self.drawing = self.drawing, []
        wait_for(drawing)
        for logger in wandb_loggers(trainer):
            for fan in self.pending:
                logger.log_image(fan["key"], [fan["path"]], step=fan["step"])
        self.pending, self.sent = [], 0

    def on_train_end(self, trainer, pl_module) -> None:
        """Log every pending fan before the final resume checkpoint is written, and draw
        the trained model's PNGs if its last validated epoch had none."""
        if not trainer.is_global_zero:
            return
        self.log_pending(trainer)
        epoch = self.last_validated
        if epoch is not None and epoch % self.every_n_epochs != 0:
            figure = self.figure or FanFigure()
            for fan in self.fans(trainer, pl_module, epoch):
                figure.draw(fan["samples"].numpy(), fan["truth"].numpy(), fan["title"])
                figure.save(fan["path"])
            figure.close()
            self.figure = None

    def state_dict(self) -> dict:
        return {
            "pending": [dict(fan) for fan in self.pending],
            "last_validated": self.last_validated,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self.pending, self.sent = list(state_dict.get("pending", [])), 0
        self.last_validated = state_dict.get("last_validated")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool, self.drawing = None, []
        if self.figure is not None:
            self.figure.close()
            self.figure = None
