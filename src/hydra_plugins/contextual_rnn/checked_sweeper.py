"""A grid sweeper whose every job is checked before the first starts.

``-m seed=0,1,2 model/init=zero,free`` is the product of the swept values, as Hydra's basic
sweeper makes it; this one first counts the jobs (at most ``max_jobs``: a typo such as
``seed=range(0,100000)`` is refused at once), then composes and checks each job as its
launcher will run it (``contextual_rnn.train.check_jobs``: its values, and its
folder neither in use nor holding a run of another config). A bad job ends the sweep in one
line naming it, exit 2, before any folder is made or written, whichever launcher runs the
jobs. The Optuna sweeper samples its jobs one at a time: each is checked as it is built.
"""

import itertools
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from contextual_rnn.config import refuse


class CheckedSweeper(Sweeper):
    def __init__(self, max_jobs: int = 1000, params: dict | None = None) -> None:
        self.max_jobs, self.params = max_jobs, params or {}

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def jobs(self, arguments: list[str]) -> list[list[str]]:
        """Every combination of the swept values: one list of overrides per job."""
        given = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        choices = {}  # key -> its overrides, the last of a key winning, in first-seen order
        for override in parser.parse_overrides(given):
            key = override.get_key_element()
            if override.is_sweep_override() and not override.is_discrete_sweep():
                refuse(f"{override.input_line} is not allowed: expected a list of values")
            values = (
                list(override.sweep_string_iterator())
                if override.is_sweep_override()
                else [override.get_value_element_as_str()]
            )
            choices[key] = [f"{key}={value}" for value in values]
        count = 1
        for values in choices.values():
            count *= len(values)
        if count == 0 or count > self.max_jobs:
            refuse(
                f"a sweep of {count} jobs is not allowed: expected 1 to "
                f"hydra.sweeper.max_jobs={self.max_jobs} (raise it to run more)"
            )
        return [list(job) for job in itertools.product(*choices.values())]

    def sweep(self, arguments: list[str]):
        from contextual_rnn.train import check_jobs

        jobs = self.jobs(arguments)
        check_jobs(self.hydra_context.config_loader, self.config, jobs, 0)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if not (sweep_dir / "multirun.yaml").exists():  # a sweep run again keeps its record
            OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        results = self.launcher.launch(jobs, initial_job_idx=0)
        for result in results:
            _ = result.return_value  # a failed job's error ends the command, after every job
        return [results]
