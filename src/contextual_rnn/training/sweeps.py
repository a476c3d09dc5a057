"""Multirun bookkeeping: one folder per sweep, one table of every job's results.

``SweepFolder`` is a Hydra callback that names the sweep's folder before any job
runs: Hydra's launchers resolve ``hydra.sweep.dir`` in the parent process, where the
``${hydra:...}`` values that the default ``name`` uses do not exist yet, and each job
would resolve it again with its own ``name``. The folder is
``outputs/<name>/multiruns/<time>``, where ``name`` is the experiment name, or, when the
sweep varies what the name is made of, the swept values joined with ``+``
(``-m model/cell=lstm,gru`` -> ``lcd_lstm+gru``). A ``hydra.sweep.dir`` given on the
command line is used as it is.

``SweepSummary`` is a Hydra callback (registered in conf/hydra/default.yaml). After
each job of a multirun it writes ``sweep_job.json`` in the job's folder and refreshes
``summary.md`` and ``summary.csv`` in the sweep folder; when the multirun ends it
rewrites them from every job's record, prints the table and exits with 1 if a job failed.

A failing job must not end the sweep. Hydra runs every job of a batch (``run_job``
turns an exception into a FAILED ``JobReturn``), but its sweepers then re-raise the
first failure (the basic sweeper after its batch, Optuna's after each batch of trials),
which drops the remaining batches and ``on_multirun_end``. So the callback records the
failure, logs its traceback to the job's log and hands the sweeper a completed job
without a value (Optuna marks that trial failed). A job's own ``sys.exit`` would end
the whole sweep, hence ``exit_with``: in a multirun it raises ``JobFailed`` instead.
"""

import csv
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, read_write

log = logging.getLogger(__name__)

RECORD = "sweep_job.json"  # in each job's folder
METRICS = "metrics.json"  # in each run's folder: its final metrics
SUMMARY = "summary"  # summary.md and summary.csv in the sweep folder


class JobFailed(RuntimeError):
    """A multirun job that a single run would end with ``sys.exit(code)``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def exit_with(code: int, message: str) -> NoReturn:
    """Print the one-line error; exit with ``code``, or in a multirun fail this job only."""
    print(message, file=sys.stderr)
    if in_multirun():
        raise JobFailed(code, message)
    sys.exit(code)


def global_rank() -> int:
    """This process's rank in a multi-process job (SLURM tasks, torchrun), else 0."""
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def write_json(path: Path, data: Any) -> None:
    """Write atomically: parallel jobs may refresh the same file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(data, indent=1, default=str))
    partial.replace(path)


def save_metrics(output_dir: str | Path, metrics: dict[str, float]) -> None:
    """The run's final metrics as ``metrics.json`` (rank 0 only), read by the sweep summary."""
    if global_rank() == 0:
        write_json(Path(output_dir) / METRICS, metrics)


def one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, JobFailed):  # already the job's own one-line "error: ..."
        text = text.removeprefix("error: ")
    else:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def job_record(config: DictConfig, job_return: JobReturn) -> dict:
    folder = Path(config.hydra.runtime.output_dir)
    record = {
        "job": int(config.hydra.job.num),
        "overrides": list(job_return.overrides or []),
        "folder": str(folder),
    }
    if job_return.status == JobStatus.FAILED:
        error = job_return._return_value  # Hydra keeps the job's exception here
        code = getattr(error, "code", None)
        status = f"failed (exit {code})" if code is not None else "failed"
        return {**record, "status": status, "error": one_line(error), "metrics": {}}
    metrics_file = folder / METRICS
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return {**record, "status": "completed", "error": "", "metrics": metrics}


def read_records(sweep_dir: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in sweep_dir.rglob(RECORD)]
    return sorted(records, key=lambda r: r["job"])


def metric_names(records: list[dict]) -> list[str]:
    names = {name for r in records for name in r["metrics"]}
    return sorted(names, key=lambda n: (not n.startswith("val/"), n))


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def common_overrides(records: list[dict]) -> list[str]:
    """The overrides every job shares (none when there is only one job)."""
    if len(records) < 2:
        return []
    shared = set.intersection(*(set(r["overrides"]) for r in records))
    return [o for o in records[0]["overrides"] if o in shared]


def rows(records: list[dict], hide: list[str] = ()) -> tuple[list[str], list[list[str]]]:
    names = metric_names(records)
    header = ["job", "status", "overrides", *names, "error"]
    table = [
        [
            str(r["job"]),
            r["status"],
            " ".join(o for o in r["overrides"] if o not in hide),
            *(format_value(r["metrics"].get(n, "")) for n in names),
            r["error"],
        ]
        for r in records
    ]
    return header, table


def markdown(header: list[str], table: list[list[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, table)]) + "\n"


def write_summary(sweep_dir: Path, records: list[dict]) -> str:
    """Write summary.md and summary.csv in the sweep folder; returns the markdown.

    The markdown table shows the overrides that differ between jobs (the shared ones
    above it); the CSV has every job's full overrides and its folder.
    """
    shared = common_overrides(records)
    text = markdown(*rows(records, hide=shared))
    if shared:
        text = f"overrides of every job: `{' '.join(shared)}`\n\n{text}"
    header, table = rows(records)
    partial = sweep_dir / f".{SUMMARY}.md.{os.getpid()}"
    partial.write_text(text)
    partial.replace(sweep_dir / f"{SUMMARY}.md")
    partial = sweep_dir / f".{SUMMARY}.csv.{os.getpid()}"
    with partial.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*header, "folder"])
        writer.writerows(row + [r["folder"]] for row, r in zip(table, records, strict=True))
    partial.replace(sweep_dir / f"{SUMMARY}.csv")
    return text


NAME_PARTS = ("data", "model/cell")  # what the default name is made of, in order


def swept_values(config: DictConfig) -> dict[str, list[str]]:
    """key -> values, for every override of the command line that sweeps."""
    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    return {
        o.key_or_group: [str(v) for v in o.sweep_string_iterator()]
        for o in parsed
        if o.is_sweep_override()
    }


def sweep_name(config: DictConfig) -> str:
    """The name a sweep's folder carries (see the module docstring)."""
    swept = swept_values(config)
    for key in ("name", "experiment"):
        if key in swept:
            return "+".join(swept[key])
    raw = OmegaConf.to_container(config, resolve=False).get("name")
    if isinstance(raw, str) and "${hydra:" not in raw:
        return str(config.name)  # an experiment's own name
    choices = config.hydra.runtime.choices
    return "_".join("+".join(swept.get(part, [str(choices[part])])) for part in NAME_PARTS)


class SweepFolder(Callback):
    """Fixes ``hydra.sweep.dir`` for the parent and every job before the sweep starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        hydra_overrides = list(config.hydra.overrides.hydra)
        if any(o.lstrip("+").startswith("hydra.sweep.dir=") for o in hydra_overrides):
            return
        with read_write(config):
            config.name = sweep_name(config)
            folder = str(config.hydra.sweep.dir)
            config.hydra.sweep.dir = folder
            escaped = folder.replace("\\", "\\\\").replace("'", "\\'")
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir='{escaped}'")


class SweepSummary(Callback):
    """Records each multirun job and tabulates them all when the multirun ends."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN or global_rank() != 0:
            return
        record = job_record(config, job_return)
        if job_return.status == JobStatus.FAILED:
            error = job_return._return_value
            trace = (
                None if isinstance(error, JobFailed) else (type(error), error, error.__traceback__)
            )
            log.error(
                f"job #{record['job']} failed ({record['error']}); the sweep goes on",
                exc_info=trace,
            )
            job_return.status = JobStatus.COMPLETED  # the sweeper must not re-raise it
            job_return.return_value = None
        write_json(Path(record["folder"]) / RECORD, record)
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
