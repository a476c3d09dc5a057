"""The sweep's summary: one row per job in ``summary.md`` and ``summary.csv``.

``SweepSummary``, a Hydra callback (conf/hydra/default.yaml), records each job of a
multirun in its folder (``sweep_job.json``) and refreshes the summary; when the multirun
ends it prints the table and exits with 1 if a job failed. A failing job must not end
the sweep: Hydra's sweepers re-raise the first FAILED ``JobReturn`` of a batch, which
drops the later batches (Optuna asks in batches) and ``on_multirun_end``. So the callback
logs the failure's traceback to the job's log and hands the sweeper a completed job
without a value (Optuna marks that trial failed).
"""

import csv
import io
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig
from pytorch_lightning.utilities import rank_zero_only

from contextual_rnn.training.job_exit import JobFailed, one_line

log = logging.getLogger(__name__)

RECORD = "sweep_job.json"  # in each job's folder
METRICS = "metrics.json"  # in each run's folder: its final metrics
SUMMARY = "summary"  # summary.md and summary.csv in the sweep folder


def write_atomically(path: Path, text: str) -> None:
    """Parallel jobs may refresh the same file: write it aside, then rename it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text, newline="")
    partial.replace(path)


def save_metrics(output_dir: str | Path, metrics: dict[str, float]) -> None:
    """The run's final metrics as ``metrics.json`` (by Lightning's global rank 0 only)."""
    if rank_zero_only.rank == 0:
        write_atomically(Path(output_dir) / METRICS, json.dumps(metrics, indent=1, default=str))


def job_record(config: DictConfig, job_return: JobReturn) -> dict:
    folder = Path(config.hydra.runtime.output_dir)
    record = {
        "job": int(config.hydra.job.num),
        "overrides": list(job_return.overrides or []),
        "folder": str(folder),
    }
    if job_return.status == JobStatus.FAILED:
        error = job_return._return_value  # the job's exception (return_value would raise it)
        code = getattr(error, "code", None)
        status = f"failed (exit {code})" if code is not None else "failed"
        return {**record, "status": status, "error": one_line(error, limit=300), "metrics": {}}
    metrics_file = folder / METRICS
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return {**record, "status": "completed", "error": "", "metrics": metrics}


def read_records(sweep_dir: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in sweep_dir.rglob(RECORD)]
    return sorted(records, key=lambda r: r["job"])


def common_overrides(records: list[dict]) -> list[str]:
    """The overrides every job shares (none when there is only one job)."""
    if len(records) < 2:
        return []
    shared = set.intersection(*(set(r["overrides"]) for r in records))
    return [o for o in records[0]["overrides"] if o in shared]


def table(records: list[dict], hide: list[str] = ()) -> list[dict[str, str]]:
    """One row per job: number, status, overrides (less ``hide``), metrics, error, folder."""
    names = sorted({n for r in records for n in r["metrics"]}, key=lambda n: (n[:4] != "val/", n))

    def cell(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    return [
        {
            "job": str(r["job"]),
            "status": r["status"],
            "overrides": " ".join(o for o in r["overrides"] if o not in hide),
            **{name: cell(r["metrics"].get(name, "")) for name in names},
            "error": r["error"],
            "folder": r["folder"],
        }
        for r in records
    ]


def markdown(rows: list[dict[str, str]]) -> str:
    header = [key for key in rows[0] if key != "folder"]

    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    lines = [line(header), line(["---"] * len(header))]
    return "\n".join(lines + [line(row[key] for key in header) for row in rows]) + "\n"


def write_summary(sweep_dir: Path, records: list[dict]) -> str:
    """Write summary.md and summary.csv in the sweep folder; returns the markdown.

    The markdown table shows the overrides that differ between jobs (the shared ones
    above it); the CSV has every job's full overrides and its folder.
    """
    shared = common_overrides(records)
    text = markdown(table(records, hide=shared))
    if shared:
        text = f"overrides of every job: `{' '.join(shared)}`\n\n{text}"
    write_atomically(sweep_dir / f"{SUMMARY}.md", text)
    rows, csv_text = table(records), io.StringIO()
    writer = csv.DictWriter(csv_text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(sweep_dir / f"{SUMMARY}.csv", csv_text.getvalue())
    return text


class SweepSummary(Callback):
    """Records each multirun job and tabulates them all when the multirun ends."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or rank_zero_only.rank != 0:
            return
        record = job_record(config, job_return)
        if job_return.status == JobStatus.FAILED:
            error = job_return._return_value
            trace = None if isinstance(error, JobFailed) else error  # a JobFailed said it all
            log.error(
                f"job #{record['job']} failed ({record['error']}); the sweep goes on",
                exc_info=trace,
            )
            job_return.status, job_return.return_value = JobStatus.COMPLETED, None  # no re-raise
        write_atomically(Path(record["folder"]) / RECORD, json.dumps(record, indent=1, default=str))
        sweep_dir = Path(config.hydra.sweep.dir)
        write_summary(sweep_dir, read_records(sweep_dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        records = read_records(sweep_dir)
        if not records:
            return
        print(f"\nsweep summary ({sweep_dir / SUMMARY}.md, .csv):\n")
        print(write_summary(sweep_dir, records))
        failed = [r for r in records if r["status"] != "completed"]
        if failed:
            jobs = ", ".join(f"#{r['job']}" for r in failed)
            print(f"error: {len(failed)} of {len(records)} jobs failed: {jobs}", file=sys.stderr)
            sys.exit(1)
