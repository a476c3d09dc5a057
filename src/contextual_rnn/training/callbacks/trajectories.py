"""Sampled trajectory fans of a generative task (the paper's Fig. 6), every ``every_n_epochs``.

For each of the task's figure examples: ``num_samples`` sampled initial states rolled out
from the start value, drawn in the training process, saved as a PNG and logged to W&B as
an image (``val/trajectories/<example>``) and as data (``val/trajectories/table``) at the
validations of every ``every_n_epochs``-th epoch. When training ends, the PNGs are redrawn
for the trained model if its last validated epoch was not one of those (on disk only, so
that a finished run continued equals one trained that long). Four fans cost nearly an
LCD training epoch (docs/performance.md). The samples come from the callback's own
stream, seeded by (seed, epoch): how often figures are drawn changes no training number.
"""

from pathlib import Path

import torch
from pytorch_lightning import Callback

from contextual_rnn.core.errors import PositiveInt, checked
from contextual_rnn.core.figures import FanFigure
from contextual_rnn.loggers import wandb_loggers

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
