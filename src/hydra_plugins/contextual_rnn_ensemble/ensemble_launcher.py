"""A Hydra launcher that trains the jobs of a multirun differing only in ``seed`` together.

``-m seed=0,1,2`` with a vectorised cell (fast weights, ``RecurrentCell.vectorised``)
becomes one process step of three members (``contextual_rnn.training.ensemble``); each
member keeps its own job folder, logs, checkpoints, W&B run and row in the sweep summary.
A sweep over other values as well (``model/init=zero,free,contextual seed=0,1,2``) gives
one ensemble per configuration. Groups larger than ``size`` are split. Jobs that cannot
be grouped (a single seed, a fused cell, several devices) go to the ``fallback``
launcher (the parallel one by default), exactly as without this launcher. The sweeper
has checked every job's config before (``checked_sweeper``).
"""

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def without_seed(overrides: Sequence[str]) -> tuple[str, ...]:
    return tuple(o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "seed")


def groupable(config: DictConfig) -> bool:
    """One device and a cell that vmap batches: what an ensemble needs to gain anything."""
    trainer = config.trainer
    one_device = trainer.get("devices", 1) in (1, "1", "auto", None) and trainer.get(
        "strategy", "auto"
    ) in ("auto", None)
    cell = config.model.cell.get("_target_")
    return bool(one_device and cell and getattr(get_class(cell), "vectorised", False))


class EnsembleLauncher(Launcher):
    def __init__(self, size: int = 10, fallback: Launcher | DictConfig | None = None) -> None:
        self.size, self.fallback = size, fallback  # Hydra instantiates the fallback's config
        self.config = self.task_function = self.hydra_context = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from contextual_rnn.training.checks import job_config
        from contextual_rnn.training.ensemble import Lockstep

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        configs = {
            idx: job_config(self.hydra_context.config_loader, self.config, idx, overrides)
            for idx, overrides in enumerate(job_overrides, start=initial_job_idx)
        }
        groups: dict[tuple, list[int]] = {}
        for idx, overrides in zip(configs, job_overrides, strict=True):
            key = without_seed(overrides) if groupable(configs[idx]) else ("job", idx)
            groups.setdefault(key, []).append(idx)
        returns: dict[int, JobReturn] = {}
        alone: list[int] = []
        for members in groups.values():
            if len(members) < 2:
                alone += members
                continue
            for start in range(0, len(members), self.size):
                chunk = members[start : start + self.size]
                log.info(f"Ensemble of {len(chunk)}: jobs {', '.join(map(str, chunk))}")
                for idx in chunk:
                    overrides = filter_overrides(job_overrides[idx - initial_job_idx])
                    log.info(f"\t#{idx} : {' '.join(overrides)}")
                for idx in chunk:  # one console for all members: no live progress bars
                    configs[idx].trainer.enable_progress_bar = False
                outcomes = Lockstep().run([partial(self.run_one, configs[idx]) for idx in chunk])
                for idx, outcome in zip(chunk, outcomes, strict=True):
                    if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                        raise outcome  # Ctrl-C or an exit: stops the sweep, as in any launcher
                    returns[idx] = outcome
        returns.update(self.launch_alone(sorted(alone), job_overrides, initial_job_idx))
        return [returns[initial_job_idx + i] for i in range(len(job_overrides))]

    def run_one(self, config: DictConfig) -> JobReturn:
        return run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    def launch_alone(self, jobs: list[int], job_overrides, initial_job_idx: int) -> dict:
        """The fallback launcher, once per run of consecutive job numbers (it numbers a
        batch of jobs from its first)."""
        returns: dict[int, JobReturn] = {}
        runs: list[list[int]] = []
        for idx in jobs:
            if runs and runs[-1][-1] == idx - 1:
                runs[-1].append(idx)
            else:
                runs.append([idx])
        launcher = self.fallback
        if not isinstance(launcher, Launcher):
            launcher = instantiate(launcher)
        for run in runs:
            launcher.setup(
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=self.config,
            )
            batch = [job_overrides[idx - initial_job_idx] for idx in run]
            returns.update(zip(run, launcher.launch(batch, run[0]), strict=True))
        return returns
