"""The sweep's summary (docs/sweeps.md): one row per job in ``summary.md`` and
``summary.csv``, then one row per configuration over its seeds; with the W&B logger, the
per-configuration table also goes to an offline W&B run of job type "summary".

``SweepSummary``, a Hydra callback, records each job of a multirun in its folder
(``sweep_job.json``) and refreshes the summary. A failing job must not end the sweep:
Hydra's sweepers re-raise the first FAILED ``JobReturn`` of a batch, which drops the
later batches (Optuna asks in batches) and ``on_multirun_end``. So the callback logs the
failure and hands the sweeper a completed job without a value (Optuna marks that trial
failed).
"""

import contextlib
import csv
import io
import json
import logging
import math
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, env_override
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only

from contextual_rnn.analysis.report import report_for
from contextual_rnn.core.files import write_atomically
from contextual_rnn.training.job_exit import JobFailed, job_error

log = logging.getLogger(__name__)

RECORD = "sweep_job.json"  # in each job's folder
METRICS = "metrics.json"  # in each run's folder: its final metrics
SUMMARY = "summary"  # summary.md and summary.csv in the sweep folder
STATISTICS = ("mean", "sd", "median", "min", "max")


def save_metrics(output_dir: str | Path, metrics: dict[str, float]) -> None:
    """The run's final metrics as ``metrics.json`` (by Lightning's global rank 0 only)."""
    if rank_zero_only.rank == 0:
        write_atomically(Path(output_dir) / METRICS, json.dumps(metrics, indent=1, default=str))


def best_values(csv_log: Path, config: DictConfig) -> dict[str, float]:
    """``<metric> (best)`` over the job's CSV log, for each metric the study reports of its
    task, in the direction the report says."""
    if not csv_log.is_file():
        return {}
    with csv_log.open(newline="") as file:
        rows = list(csv.DictReader(file))
    report = report_for(OmegaConf.select(config, "data.task._target_"))
    values = {}
    for metric, direction in report.metrics.items():
        logged = [float(row[metric]) for row in rows if row.get(metric)]
        if logged:
            values[f"{metric} (best)"] = min(logged) if direction == "min" else max(logged)
    return values


def job_exception(job_return: JobReturn) -> Exception | None:
    """A failed job's exception: Hydra's ``return_value`` raises it (and says so on
    stderr, which the callback's own line replaces)."""
    if job_return.status == JobStatus.FAILED:
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                _ = job_return.return_value
        except Exception as error:  # noqa: BLE001 - whatever the job raised
            return error
    return None


def job_record(config: DictConfig, job_return: JobReturn, error: Exception | None) -> dict:
    folder = Path(config.hydra.runtime.output_dir)
    record = {
        "job": int(config.hydra.job.num),
        "overrides": list(job_return.overrides or []),
        "folder": str(folder),
        "status": "completed",
        "error": "",
    }
    if error is not None:
        code = getattr(error, "code", None)
        record["status"] = f"failed (exit {code})" if code is not None else "failed"
        return {**record, "error": job_error(error, limit=300), "metrics": {}}
    metrics_file = folder / METRICS
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return {**record, "metrics": metrics | best_values(folder / "csv" / "metrics.csv", config)}


def read_records(sweep_dir: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in sweep_dir.rglob(RECORD)]
    return sorted(records, key=lambda r: r["job"])


def metric_names(records: list[dict]) -> list[str]:
    return sorted({n for r in records for n in r["metrics"]}, key=lambda n: (n[:4] != "val/", n))


def describe(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    sd = statistics.stdev(values) if len(values) > 1 else math.nan
    spread = (statistics.median(values), min(values), max(values))
    return dict(zip(STATISTICS, (statistics.mean(values), sd, *spread), strict=True))


def aggregate(records: list[dict]) -> list[dict]:
    """One entry per configuration (the jobs whose overrides differ only in ``seed``): its
    overrides, n (its completed jobs) and each metric's statistics."""
    jobs: dict[str, list[dict]] = {}
    for r in records:
        overrides = " ".join(o for o in r["overrides"] if o.split("=", 1)[0].lstrip("+~") != "seed")
        jobs.setdefault(overrides, [])
        if r["status"] == "completed":
            jobs[overrides].append(r)
    names = metric_names(records)
    return [
        {
            "overrides": overrides,
            "n": len(done),
            "metrics": {
                n: describe([r["metrics"][n] for r in done if n in r["metrics"]]) for n in names
            },
        }
        for overrides, done in jobs.items()
    ]


def cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def job_rows(records: list[dict], hide: list[str] = ()) -> list[dict[str, str]]:
    """One row per job: number, status, overrides (less ``hide``), metrics, error, folder."""
    names = metric_names(records)
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


def spread(stats: dict[str, float]) -> str:
    g = {k: f"{v:.4g}" for k, v in stats.items()}
    return f"{g['mean']} ± {g['sd']}; {g['median']} [{g['min']}, {g['max']}]" if g else ""


def write_summary(sweep_dir: Path, records: list[dict]) -> str:
    """Write summary.md and summary.csv in the sweep folder; returns the markdown.

    The markdown shows the overrides that differ between jobs (the shared ones above it)
    and each configuration's metric as ``mean ± sd; median [min, max]``; the CSV has every
    job's full overrides and folder, and a configuration's mean under the metric's own
    column, the other statistics beside it.
    """
    shared = []  # the overrides of every job (none when there is only one job)
    if len(records) > 1:
        every = set.intersection(*(set(r["overrides"]) for r in records))
        shared = [o for o in records[0]["overrides"] if o in every]
    md_rows, csv_rows = [], []
    for c in aggregate(records):
        md = {"configuration": " ".join(o for o in c["overrides"].split() if o not in shared)}
        row = {"job": "", "status": "over seeds", "overrides": c["overrides"]}
        md["n"] = row["n"] = str(c["n"])
        for name, s in c["metrics"].items():
            md[name] = spread(s)
            row[name] = cell(s.get("mean", ""))
            row |= {f"{name} {k}": cell(s.get(k, "")) for k in STATISTICS[1:]}
        md_rows.append(md)
        csv_rows.append(row)
    text = markdown(job_rows(records, hide=shared))
    text += "\nper configuration, over seeds (mean ± sd; median [min, max]):\n\n"
    text += markdown(md_rows)
    if shared:
        text = f"overrides of every job: `{' '.join(shared)}`\n\n{text}"
    write_atomically(sweep_dir / f"{SUMMARY}.md", text)
    rows, csv_text = job_rows(records) + csv_rows, io.StringIO()
    writer = csv.DictWriter(csv_text, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(sweep_dir / f"{SUMMARY}.csv", csv_text.getvalue())
    return text


def wandb_settings(config: DictConfig) -> dict | None:
    """The W&B logger's settings of the sweep (its group as the jobs resolved it), or None
    when the jobs did not log to W&B (``logger=csv``, ``logger=none``)."""
    if OmegaConf.select(config, "logger.wandb") is None:
        return None
    group = config.hydra.job.env_set.get("WANDB_RUN_GROUP")  # set by SweepFolder
    HydraConfig.instance().set_config(config)  # the ${hydra:...} of the group's default
    with env_override({"WANDB_RUN_GROUP": group} if group else {}):
        wandb = config.logger.wandb
        return {"project": wandb.project, "group": wandb.group, "tags": list(wandb.tags or [])}


def log_to_wandb(sweep_dir: Path, configs: list[dict], settings: dict) -> Path | None:
    """The aggregate as a ``wandb.Table`` in an offline run of the sweep's group; a W&B
    failure warns and the sweep goes on (its summary files are written already)."""
    import wandb

    names = list(configs[0]["metrics"]) if configs else []
    columns = ["configuration", "n"] + [f"{n} {k}" for n in names for k in STATISTICS]
    data = [
        [c["overrides"], c["n"]]
        + [c["metrics"][n].get(k, math.nan) for n in names for k in STATISTICS]
        for c in configs
    ]
    folder = sweep_dir / SUMMARY
    try:
        folder.mkdir(exist_ok=True)
        with env_override({"WANDB_DATA_DIR": str(folder / "wandb")}):  # its staged table
            run = wandb.init(
                dir=folder, mode="offline", job_type="summary",
                name=f"{settings['group']}-summary", settings=wandb.Settings(silent=True),
                **settings,
            )  # fmt: skip
            with run:
                run.log({"seeds": wandb.Table(columns=columns, data=data)})
            wandb.teardown()  # waits until W&B's service has written the run's file
            return Path(run.dir).parent
    except Exception as error:  # noqa: BLE001 - the sweep's result must not depend on W&B
        warnings.warn(f"the sweep's W&B summary run was not written: {error}", stacklevel=2)
        return None


class SweepSummary(Callback):
    """Records each multirun job and tabulates them all when the multirun ends."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or rank_zero_only.rank != 0:
            return
        error = job_exception(job_return)
        record = job_record(config, job_return, error)
        if error is not None:
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
        settings = wandb_settings(config)
        if settings is not None:
            run = log_to_wandb(sweep_dir, aggregate(records), settings)
            if run is not None:
                print(f"W&B summary run: {run}")
                print(f"upload the sweep with: wandb sync {sweep_dir}/*/wandb/offline-run-*")
        failed = [r for r in records if r["status"] != "completed"]
        if failed:
            jobs = ", ".join(f"#{r['job']}" for r in failed)
            print(f"error: {len(failed)} of {len(records)} jobs failed: {jobs}", file=sys.stderr)
            sys.exit(1)
