"""Loggers that survive what long runs meet: an unwritable W&B folder, a resumed run.

SafeWandbLogger: if its folder cannot be written (wandb would silently fall back
to a temp dir, outside the run folder) or a W&B call fails mid-run (disk full),
it warns once and turns itself off; training goes on and the CSV log keeps every
metric. ContinuingCSVLogger: a resumed run keeps the rows logged before it.
"""

import csv
import tempfile
import warnings
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import DummyExperiment


def unwritable_reason(folder: Path) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"{error.strerror or error} ({folder})"
    return None


class SafeWandbLogger(WandbLogger):
    _disabled_reason: str | None = None

    def _disable(self, reason: str) -> DummyExperiment:
        if self._disabled_reason is None:
            warnings.warn(
                f"W&B logging turned off: {reason}; the CSV log keeps the metrics", stacklevel=2
            )
            self._disabled_reason = reason
        self._experiment = DummyExperiment()
        return self._experiment

    @property
    def experiment(self):
        if self._disabled_reason is not None:
            return self._experiment
        if self._experiment is None:
            reason = unwritable_reason(Path(self.save_dir or "."))
            if reason:
                return self._disable(f"cannot write to its folder: {reason}")
        try:
            return super().experiment
        except Exception as error:  # noqa: BLE001 - any W&B failure must not stop training
            return self._disable(f"{type(error).__name__}: {error}")

    def _guarded(self, method: str, *args, **kwargs):
        if self._disabled_reason is not None:
            return None
        try:
            return getattr(super(), method)(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            self._disable(f"{method} failed: {type(error).__name__}: {error}")
            return None

    def log_metrics(self, metrics, step=None):
        return self._guarded("log_metrics", metrics, step)

    def log_hyperparams(self, params):
        return self._guarded("log_hyperparams", params)

    def log_image(self, key, images, step=None, **kwargs):
        return self._guarded("log_image", key, images, step, **kwargs)

    def after_save_checkpoint(self, checkpoint_callback):
        return self._guarded("after_save_checkpoint", checkpoint_callback)

    def finalize(self, status):
        return self._guarded("finalize", status)

    @property
    def version(self):
        return self._id if self._disabled_reason is not None else super().version

    @property
    def disabled_reason(self) -> str | None:
        return self._disabled_reason


class _ContinuingWriter(ExperimentWriter):
    """Keeps the rows an earlier attempt logged before step ``keep_below``."""

    def __init__(self, log_dir: str, keep_below: int | None):
        self.keep_below = keep_below
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if self.keep_below is None or not path.is_file():
            return super()._check_log_dir_exists()
        with path.open(newline="") as file:
            rows = [r for r in csv.DictReader(file) if int(r["step"]) < self.keep_below]
        keys = sorted({key for row in rows for key in row})
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = keys


class ContinuingCSVLogger(CSVLogger):
    """A CSVLogger that, when a run resumes at step N, keeps what was logged before N.

    Lightning's own deletes an existing metrics.csv; a resumed run would lose its history.
    """

    def __init__(self, *args, resume_step: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.resume_step = resume_step

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self.resume_step)
        return self._experiment
