"""Sampled trajectory fans at the end of every validation epoch (the paper's Fig. 6).

For the first validation sequence of each validation period: sample N initial
states, roll the model out from x0, save one PNG per period (the latest epoch's)
and log it to W&B under ``val/trajectories/period_<p>``. Works with any module
that has ``rollout``; does nothing for others.
"""

from pathlib import Path

import torch
from pytorch_lightning import Callback
from pytorch_lightning.loggers import WandbLogger

from contextual_rnn.plotting import save, trajectory_fan


def first_of_each_period(raw: dict) -> torch.Tensor:
    periods = raw["period"]
    return torch.stack([(periods == p).nonzero()[0, 0] for p in periods.unique()])


class TrajectoryFigures(Callback):
    def __init__(self, dirpath: str, num_samples: int = 10, every_n_epochs: int = 1):
        self.dirpath, self.num_samples, self.every_n_epochs = (
            Path(dirpath),
            num_samples,
            every_n_epochs,
        )
        self.paths: list[Path] = []

    def on_validation_epoch_end(self, trainer, pl_module):
        if (
            trainer.sanity_checking
            or not hasattr(pl_module, "rollout")
            or trainer.current_epoch % self.every_n_epochs
            or not trainer.is_global_zero
        ):
            return
        raw = trainer.datamodule.raw["val"]
        index = first_of_each_period(raw)
        samples = pl_module.rollout(
            raw["x0"][index], raw["period"][index], sample=True, num_samples=self.num_samples
        ).cpu()
        self.dirpath.mkdir(parents=True, exist_ok=True)
        self.paths = []
        for row, i in enumerate(index.tolist()):
            period, x0 = raw["period"][i].item(), raw["x0"][i].item()
            fig = trajectory_fan(
                samples[row],
                raw["curve"][i],
                f"period {period:g}, x0 {x0:.2f}, epoch {trainer.current_epoch}",
            )
            path = self.dirpath / f"trajectories_period_{period:g}.png"
            save(fig, path)
            self.paths.append(path)
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.log_image(
                        f"val/trajectories/period_{period:g}", [str(path)], step=trainer.global_step
                    )
