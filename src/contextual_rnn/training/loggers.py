"""Lightning's loggers, made to continue a resumed run and to survive a failing W&B.

- ContinuingCSVLogger keeps ``metrics.csv`` across a resume (Lightning's would delete
  it); the resume checkpoint cuts it back to the rows it covers (``keep_rows_before``).
  The CSV log is the exact record of a run.
- SafeWandbLogger continues the W&B run its folder already holds (same id, W&B's own
  ``resume="allow"``): a resumed attempt logs again, under the same
  ``trainer/global_step``, what followed its checkpoint. If its folder cannot be
  written (wandb would silently fall back to a temp dir) or a W&B call fails mid-run
  (disk full), it warns once and turns itself off; training goes on and the CSV log
  keeps every metric.
"""

import contextlib
import csv
import io
import tempfile
import warnings
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import DummyExperiment

from contextual_rnn.core.files import write_atomically
from contextual_rnn.training import ensemble


def unwritable_reason(folder: Path) -> str | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"{error.strerror or error} ({folder})"
    return None


def finish_active_run() -> None:
    """Finish the W&B run this process has open, if any (wandb.init would reuse it)."""
    import wandb

    if wandb.run is not None:
        with contextlib.suppress(Exception):  # a broken run: closed as far as it can be
            wandb.run.finish(exit_code=1)


def existing_run_id(save_dir: str | Path) -> str | None:
    """The id of the W&B run a run folder holds (W&B names its file ``run-<id>.wandb``)."""
    files = Path(save_dir).glob("wandb/*run-*/run-*.wandb")
    return next((path.stem.removeprefix("run-") for path in files), None)


class SafeWandbLogger(WandbLogger):
    """``summaries``: metric -> "min" or "max", the summary W&B keeps for it (the best
    value, which a dashboard sorts runs by) instead of the last one."""

    def __init__(self, *args, summaries: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._id = self._id or existing_run_id(self.save_dir or ".")
        self._wandb_init["id"] = self._id
        self._wandb_init.pop("anonymous", None)  # wandb 0.31 warns it has no effect, even as None
        self.summaries = dict(summaries or {})
        self.disabled_reason: str | None = None
        self.exit_code = 1  # what the run's W&B record says when closed: 0 once finished

    def _disable(self, reason: str) -> DummyExperiment:
        if self.disabled_reason is None:
            warnings.warn(
                f"W&B logging turned off: {reason}; the CSV log keeps the metrics", stacklevel=3
            )
            self.disabled_reason = reason
            finish_active_run()  # a half-working run must not catch the next run's rows
        self._experiment = DummyExperiment()
        return self._experiment

    @property
    def experiment(self):
        if self.disabled_reason is not None:
            return self._experiment
        if self._experiment is None:
            reason = unwritable_reason(Path(self.save_dir or "."))
            if reason:
                return self._disable(f"cannot write to its folder: {reason}")
            finish_active_run()  # left over by an earlier run of this process
            try:
                run = super().experiment
                for metric, summary in self.summaries.items():
                    run.define_metric(metric, summary=summary)
            except Exception as error:  # noqa: BLE001 - any W&B failure must not stop training
                return self._disable(f"{type(error).__name__}: {error}")
        return super().experiment

    def _guarded(self, method, *args, **kwargs):
        if self.disabled_reason is None:
            try:
                return method(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                self._disable(f"{method.__name__} failed: {type(error).__name__}: {error}")
        return None

    def log_metrics(self, metrics, step=None):
        return self._guarded(super().log_metrics, metrics, step)

    def log_hyperparams(self, params):
        return self._guarded(super().log_hyperparams, params)

    def update_summary(self, values: dict) -> None:
        """Values a dashboard sorts and filters runs by (milestones, how the run ended)."""
        if self._experiment is not None and self.disabled_reason is None:
            self._guarded(self._experiment.summary.update, values)

    def record_status(self, status: str, reason: str) -> None:
        """How the run ended, in its summary; a run that did not finish closes as failed."""
        self.exit_code = 0 if status == "finished" else 1
        self.update_summary({"status": status, "status_reason": reason})

    def close(self) -> None:
        """Finish the W&B run, so that the next job of a multirun starts its own, and wait
        for W&B's process to write it to disk (``finish`` returns before it has)."""
        import wandb

        if self._experiment is not None:
            self._guarded(self._experiment.finish, exit_code=self.exit_code)
            if ensemble.current() is None:  # an ensemble's other members still log (its end)
                self._guarded(wandb.teardown)


def wandb_loggers(trainer) -> list[SafeWandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, SafeWandbLogger)]


class _ContinuingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:  # Lightning's would warn and delete the file
        pass


class ContinuingCSVLogger(CSVLogger):
    """A CSVLogger whose ``metrics.csv`` a resumed run continues."""

    @property
    def experiment(self) -> _ContinuingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir)
        return self._experiment

    def keep_rows_before(self, step: int) -> None:
        """Cut ``metrics.csv`` back to its complete rows logged below ``step`` (a row torn
        by a kill is the last one, written after any checkpoint: it goes too)."""
        writer = self.experiment
        path = Path(writer.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as file:
            reader = csv.DictReader(file)
            rows = [r for r in reader if None not in r.values() and int(r["step"]) < step]
        writer.metrics_keys = list(reader.fieldnames or []) if rows else []
        if not rows:
            path.unlink()
            return
        kept = io.StringIO()
        csv_writer = csv.DictWriter(kept, fieldnames=writer.metrics_keys)
        csv_writer.writeheader()
        csv_writer.writerows(rows)
        write_atomically(path, kept.getvalue())
