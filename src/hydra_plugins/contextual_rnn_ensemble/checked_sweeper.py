"""Hydra's basic sweeper, but every job's config is checked before the first job starts.

Hydra composes each job of a grid (``-m seed=0,1,2 model/init=zero,free``) only to see
that its overrides are legal; this sweeper also runs the project's check of each job
(``contextual_rnn.training.checks.check_jobs``), so that a bad value anywhere in the grid
ends the sweep in one line naming the job, exit 2, before any job folder is made,
whichever launcher runs the jobs. It is the default sweeper (conf/hydra/default.yaml);
the Optuna sweeper samples its jobs one at a time and each is checked as it starts.
"""

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class CheckedSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None = None, params: dict | None = None) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.checked = 0  # jobs of earlier batches: the next job's number

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        from contextual_rnn.training.checks import check_jobs

        check_jobs(self.hydra_context.config_loader, self.config, batch, self.checked)
        self.checked += len(batch)
