"""The project's Lightning callbacks, each switched on by one YAML in conf/callbacks/."""

import time
from pathlib import Path
from typing import Annotated

import torch
from annotated_types import Ge, Gt, Le, MinLen
from pytorch_lightning import Callback
from pytorch_lightning.callbacks import Timer

from contextual_rnn.errors import PositiveInt, allowed, checked, number
from contextual_rnn.figures import FanFigure
from contextual_rnn.loggers import update_summary, wandb_loggers

# --- Stop at the first non-finite training loss, before it reaches the weights.
#
# The check runs before backward, so no optimizer step is taken with it and no
# checkpoint is written after it: the last checkpoint on disk is the last good one.


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


# --- Seconds since training started, wall and CPU, logged with every validation.
#
# ``time/wall_s`` is what a user waits: Lightning's ``Timer`` measures it and checkpoints
# it, so it continues across a resume. ``time/cpu_s`` (this process's user + system
# time) is less sensitive to other work sharing the machine; it is kept the same way.


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
        super().load_state_dict(state)
        self.cpu_before = state["cpu_s"]


# --- Validate more often early in a run: every ``every`` of an epoch for the first epochs.
#
# A classification task like ART can go from chance to 100% within an epoch or two;
# validating every quarter epoch there resolves when a threshold is crossed, and
# validating once an epoch afterwards costs little. Lightning's ``val_check_interval``
# is fixed for a run, so this sets the trainer's check interval at every epoch start
# (and as training starts, for a run resumed mid-epoch).


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


# --- When a run first reaches each threshold of a metric, in epochs and wall seconds.
#
# After every validation, the first time ``metric`` reaches a threshold (``>=``), the
# epochs trained so far (fractional: steps / steps per epoch) and the seconds of
# training (Lightning's ``Timer``, here ``Timing``, when the run has one) go to W&B's
# summary as ``<metric>/epochs_to_<threshold>`` and ``<metric>/seconds_to_<threshold>``,
# so a dashboard can sort runs by them. The values are checkpointed: a resumed run
# keeps them and writes them into its summary again.


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


# --- Sampled trajectory fans of a generative task (the paper's Fig. 6), every ``every_n_epochs``.
#
# For each of the task's figure examples: ``num_samples`` sampled initial states rolled out
# from the start value, drawn in the training process, saved as a PNG and logged to W&B as
# an image (``val/trajectories/<example>``) and as data (``val/trajectories/table``) at the
# validations of every ``every_n_epochs``-th epoch. When training ends, the PNGs are redrawn
# for the trained model if its last validated epoch was not one of those (on disk only, so
# that a finished run continued equals one trained that long). Four fans cost nearly an
# LCD training epoch (docs/performance.md). The samples come from the callback's own
# stream, seeded by (seed, epoch): how often figures are drawn changes no training number.

SUMMARY_COLUMNS = ["epoch", "example", "t", "truth", "mean", "std"]


class TrajectoryFigures(Callback):
    @checked
    def __init__(
        self,
        dirpath: str,
        num_samples: PositiveInt = 10,
        every_n_epochs: PositiveInt = 1,
        seed: int = 0,
    ):
        self.dirpath = Path(dirpath)
        self.num_samples, self.every_n_epochs, self.seed = num_samples, every_n_epochs, seed
        self.figure: FanFigure | None = None
        self.last_validated: int | None = None  # the epoch of the latest validation

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

    def draw(self, fans: list[dict]) -> None:
        self.figure = self.figure or FanFigure()
        for fan in fans:
            self.figure.draw(fan["samples"].numpy(), fan["truth"].numpy(), fan["title"])
            self.figure.save(fan["path"])

    def on_validation_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch
        if trainer.sanity_checking or not hasattr(pl_module, "rollout"):
            return
        self.last_validated = epoch
        if epoch % self.every_n_epochs != 0 or not trainer.is_global_zero:
            return
        fans = self.fans(trainer, pl_module, epoch)
        rows = []
        for fan in fans:
            true, samples = fan["truth"], fan["samples"]
            columns = torch.stack([true, samples.mean(0), samples.std(0), *samples], dim=1)
            name = fan["key"].removeprefix("val/trajectories/")
            rows += [[epoch, name, t, *values] for t, values in enumerate(columns.tolist())]
        self.draw(fans)
        columns = SUMMARY_COLUMNS + [f"sample_{s}" for s in range(self.num_samples)]
        for logger in wandb_loggers(trainer):
            logger.log_table("val/trajectories/table", columns, rows, step=trainer.global_step)
            for fan in fans:
                logger.log_image(fan["key"], [fan["path"]], step=fan["step"])

    def on_train_end(self, trainer, pl_module) -> None:
        """Draw the trained model's PNGs if its last validated epoch had none."""
        epoch = self.last_validated
        if trainer.is_global_zero and epoch is not None and epoch % self.every_n_epochs != 0:
            self.draw(self.fans(trainer, pl_module, epoch))
        self.teardown(trainer, pl_module, "fit")

    def state_dict(self) -> dict:
        return {"last_validated": self.last_validated}

    def load_state_dict(self, state_dict: dict) -> None:
        self.last_validated = state_dict.get("last_validated")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.teardown(trainer, pl_module, "fit")

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.figure is not None:
            self.figure.close()
            self.figure = None
