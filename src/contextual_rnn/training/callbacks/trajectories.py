"""Sampled trajectory fans after every validation of a generative task (the paper's Fig. 6).

For each of the task's figure examples (LCD: the first validation sequence of each
period): sample ``num_samples`` initial states, roll the model out from the start
value, save one PNG per example (the latest epoch's) and log it to W&B as an image
(``val/trajectories/<example>``) and as data (``val/trajectories/table``: one row per
example and step with the truth, the samples' mean and standard deviation and every
sample), which a dashboard can plot.

The samples come from the callback's own random stream, seeded by (seed, epoch), and
the training stream is left exactly as it was: how often figures are drawn changes
no training number. Does nothing for modules that cannot roll out.
"""

from pathlib import Path

import torch
from pytorch_lightning import Callback
from pytorch_lightning.loggers import WandbLogger

from contextual_rnn.analysis.plotting import FanFigure
from contextual_rnn.core.errors import positive_int

SUMMARY_COLUMNS = ["epoch", "example", "t", "truth", "mean", "std"]


class TrajectoryFigures(Callback):
    def __init__(self, dirpath: str, num_samples: int = 10, every_n_epochs: int = 1, seed: int = 0):
        self.dirpath = Path(dirpath)
        self.num_samples = positive_int("num_samples", num_samples)
        self.every_n_epochs = positive_int("every_n_epochs", every_n_epochs)
        self.seed = seed
        self.paths: list[Path] = []
        self.figure: FanFigure | None = None

    def draw_now(self, trainer, pl_module) -> bool:
        return (
            not trainer.sanity_checking
            and hasattr(pl_module, "rollout")
            and trainer.current_epoch % self.every_n_epochs == 0
            and trainer.is_global_zero
        )

    def samples(self, pl_module, conditions, epoch: int) -> torch.Tensor:
        """Rollouts drawn from this callback's own stream; the global RNG is restored after."""
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed * 1_000_003 + epoch)
            return pl_module.rollout(conditions, sample=True, num_samples=self.num_samples).cpu()

    def on_validation_epoch_end(self, trainer, pl_module):
        if not self.draw_now(trainer, pl_module):
            return
        task, epoch = pl_module.task, trainer.current_epoch
        raw = trainer.datamodule.raw["val"]
        index = task.figure_examples(raw)
        conditions = {k: v[index] for k, v in task.conditions(raw).items()}
        samples = self.samples(pl_module, conditions, epoch)
        truth = task.truth(conditions, samples.shape[-1] - 1)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        self.figure = self.figure or FanFigure()
        self.paths, rows = [], []
        for row in range(len(index)):
            name = task.example_name(conditions, row)
            path = self.dirpath / f"trajectories_{name}.png"
            self.figure.draw(
                samples[row], truth[row], f"{task.describe(conditions, row)}, epoch {epoch}"
            )
            self.figure.save(path)
            self.paths.append(path)
            fan = samples[row]
            columns = torch.stack([truth[row].to(fan), fan.mean(0), fan.std(0), *fan], dim=1)
            rows += [[epoch, name, t, *values] for t, values in enumerate(columns.tolist())]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for path in self.paths:
                    key = "val/trajectories/" + path.stem.removeprefix("trajectories_")
                    logger.log_image(key, [str(path)], step=trainer.global_step)
                columns = SUMMARY_COLUMNS + [f"sample_{s}" for s in range(self.num_samples)]
                logger.log_table("val/trajectories/table", columns, rows, step=trainer.global_step)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self.figure is not None:
            self.figure.close()
            self.figure = None
