"""Loggers that survive what long runs meet: a resumed run, an unwritable W&B folder.

Both count the rows they log (``rows``), and a resumed run rewinds them to the count
its checkpoint holds (``rewind``), so that the rows logged after the checkpoint by the
killed attempt, which the resumed run logs again, are not doubled:

- ContinuingCSVLogger cuts ``metrics.csv`` back to that many rows (Lightning's own
  logger would delete the file).
- SafeWandbLogger gives each row its index as W&B's ``_step``: a resumed attempt
  (a new offline-run folder with the same run id) logs the repeated rows under the
  same steps, and a reader (``analysis.wandb_files.run_history``) or ``wandb sync``
  keeps one row per step. Rows the killed attempt logged but W&B never wrote are
  logged again from a journal (``training.wandb_journal``). If its folder cannot be
  written (wandb would silently fall back to a temp dir) or a W&B call fails mid-run
  (disk full), it warns once and turns itself off; training goes on and the CSV log
  keeps every metric.
"""

import contextlib
import csv
import tempfile
import warnings
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import DummyExperiment

from contextual_rnn.analysis.wandb_files import logged_steps
from contextual_rnn.training.wandb_journal import RowJournal


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


class SafeWandbLogger(WandbLogger):
    """``summaries``: metric -> "min" or "max", the summary W&B keeps for it (the best
    value, which a dashboard sorts runs by) instead of the last one."""

    _disabled_reason: str | None = None
    rows = 0
    exit_code = 1  # what the run's W&B record says when closed: 0 once known finished

    def __init__(self, *args, summaries: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.summaries = dict(summaries or {})
        self._summaries_defined = False

    def _disable(self, reason: str) -> DummyExperiment:
        if self._disabled_reason is None:
            warnings.warn(
                f"W&B logging turned off: {reason}; the CSV log keeps the metrics", stacklevel=2
            )
            self._disabled_reason = reason
            finish_active_run()  # a half-working run must not catch the next run's rows
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
            finish_active_run()  # left over by an earlier run of this process
        try:
            run = super().experiment
            if not self._summaries_defined:
                self._summaries_defined = True
                for metric, summary in self.summaries.items():
                    run.define_metric(metric, summary=summary)
            return run
        except Exception as error:  # noqa: BLE001 - any W&B failure must not stop training
            return self._disable(f"{type(error).__name__}: {error}")

    def _guarded(self, method, *args, **kwargs):
        if self._disabled_reason is not None:
            return None
        try:
            return method(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            self._disable(f"{method.__name__} failed: {type(error).__name__}: {error}")
            return None

    @property
    def journal(self) -> RowJournal:
        if getattr(self, "_journal", None) is None:
            self._journal = RowJournal(Path(self.save_dir or ".") / "wandb" / "journal")
        return self._journal

    def _log_row(self, row: dict, step: int | None, entry: dict | None) -> None:
        """Journal the row (``entry``: how to log it again), then log it as step ``rows``."""
        experiment = self.experiment  # may turn W&B off (an unwritable folder)
        if entry is not None and self._disabled_reason is None:
            try:
                self.journal.append({"step": self.rows, "global_step": step, **entry})
            except OSError as error:
                experiment = self._disable(f"cannot write its journal: {error}")
        row = row if step is None else {**row, "trainer/global_step": step}
        self._guarded(experiment.log, row, step=self.rows)
        self.rows += 1

    def log_metrics(self, metrics, step=None):
        """One W&B row per call, its ``_step`` the row's index (see the module docstring)."""
        metrics = {k: float(v) if hasattr(v, "item") else v for k, v in metrics.items()}
        self._log_row(metrics, step, {"kind": "metrics", "metrics": metrics})

    def log_image(self, key, images, step=None, **kwargs):
        """Images given as file paths (kept in the journal until the run finishes)."""
        import wandb

        kept = []
        if self._disabled_reason is None:
            try:
                kept = [self.journal.keep_file(path, self.rows) for path in images]
            except OSError as error:
                self._disable(f"cannot write its journal: {error}")
        row = {key: [wandb.Image(str(path), **kwargs) for path in images]}
        self._log_row(row, step, {"kind": "image", "key": key, "files": kept})

    def log_table(self, key, columns=None, data=None, dataframe=None, step=None):
        import wandb

        row = {key: wandb.Table(columns=columns, data=data)}
        self._log_row(row, step, {"kind": "table", "key": key, "columns": columns, "data": data})

    def rewind(self, rows: int) -> None:
        """Continue after ``rows`` rows; log again those W&B never wrote (from the journal)."""
        import wandb

        written = logged_steps(Path(self.save_dir or ".") / "wandb")
        for entry in self.journal.truncate(rows):
            if entry["step"] in written:
                continue
            self.rows, step = entry["step"], entry["global_step"]
            if entry["kind"] == "metrics":
                self._log_row(entry["metrics"], step, None)
            elif entry["kind"] == "image":
                self._log_row({entry["key"]: [wandb.Image(f) for f in entry["files"]]}, step, None)
            else:
                table = wandb.Table(columns=entry["columns"], data=entry["data"])
                self._log_row({entry["key"]: table}, step, None)
        self.rows = rows

    def update_summary(self, values: dict) -> None:
        if self._disabled_reason is None:
            self._guarded(self.experiment.summary.update, values)

    def record_status(self, status: str, reason: str) -> None:
        """How the run ended, in its summary; a run that did not finish closes as failed."""
        self.exit_code = 0 if status == "finished" else 1
        if self._experiment is not None and self._disabled_reason is None:
            self._guarded(
                self.experiment.summary.update, {"status": status, "status_reason": reason}
            )

    def close(self) -> None:
        """Finish the W&B run (so that the next job of a multirun starts its own); a
        finished run's rows are then all in its W&B file and the journal goes."""
        if self._experiment is not None and self._disabled_reason is None:
            self._guarded(self._experiment.finish, exit_code=self.exit_code)
        self.journal.close()
        if self.exit_code == 0 and self._disabled_reason is None:
            self.journal.delete()

    def log_hyperparams(self, params):
        return self._guarded(super().log_hyperparams, params)

    def after_save_checkpoint(self, checkpoint_callback):
        return self._guarded(super().after_save_checkpoint, checkpoint_callback)

    def finalize(self, status):
        return self._guarded(super().finalize, status)

    @property
    def version(self):
        return self._id if self._disabled_reason is not None else super().version

    @property
    def disabled_reason(self) -> str | None:
        return self._disabled_reason


class _CountingWriter(ExperimentWriter):
    """Counts rows; ``truncate`` cuts the file back to its first rows."""

    def truncate(self, rows: int) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as file:
            kept = list(csv.DictReader(file))[:rows]
        keys = list(dict.fromkeys(key for row in kept for key in row))
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=keys)
            writer.writeheader()
            writer.writerows(kept)
        self.metrics_keys = keys

    def _check_log_dir_exists(self) -> None:  # Lightning's would warn and delete the file
        pass


class ContinuingCSVLogger(CSVLogger):
    """A CSVLogger that keeps ``metrics.csv`` across a resume, cut back to the checkpoint."""

    rows = 0

    @property
    def experiment(self) -> _CountingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _CountingWriter(self.log_dir)
        return self._experiment

    def log_metrics(self, metrics, step=None):
        super().log_metrics(metrics, step)
        self.rows += 1

    def rewind(self, rows: int) -> None:
        self.experiment.truncate(rows)
        self.rows = rows
