"""Sweeps (docs/sweeps.md): the sweep folder, its W&B names, its summary.

``SweepFolder`` names the folder before any job runs (Hydra's launchers resolve
``hydra.sweep.dir`` in the parent, where the ``${hydra:...}`` of the default name do not
exist yet, and each job would resolve it with its own name), sets ``WANDB_RUN_GROUP`` for the
jobs and excludes the overrides every job shares from what ``${run_name:}`` reads.
``SweepSummary`` records each job (``summary/jobs/<job>.json``) and writes the summary. A
failed job must not end the sweep: Hydra's sweepers re-raise the first FAILED ``JobReturn``
of a batch, dropping later batches (Optuna asks in batches) and ``on_multirun_end``; so the
callback hands the sweeper a completed job without a value (Optuna marks it failed), and
the sweep exits 1 at its end.
"""

import contextlib
import csv
import io
import json
import logging
import math
import os
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Quote, QuotedString
from hydra.core.utils import JobReturn, JobStatus, env_override
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from contextual_rnn.analysis.report import report_for
from contextual_rnn.errors import one_line
from contextual_rnn.files import write_atomically
from contextual_rnn.registry import REGISTRY
from contextual_rnn.tasks.base import SequenceTask

log = logging.getLogger(__name__)

NAME_PARTS = ("data", "model/cell")  # what the default sweep name is made of, in order
GROUP = "WANDB_RUN_GROUP"  # W&B's variable for a run's group
METRICS = "metrics.json"  # in each run's folder: its final metrics
RECORDS = "summary/jobs"  # in the sweep folder: <job number>.json
STATISTICS = ("mean", "sd", "median", "min", "max")
SAME = {"regression": {"val/loss": "val/mse"}}  # by task kind: the regressor's loss is its MSE


def save_metrics(output_dir: str | Path, metrics: dict[str, float]) -> None:
    """The run's final metrics as ``metrics.json`` (by Lightning's global rank 0 only)."""
    from pytorch_lightning.utilities import rank_zero_only

    if rank_zero_only.rank == 0:
        write_atomically(Path(output_dir) / METRICS, json.dumps(metrics, indent=1, default=str))


def command_line(config: DictConfig) -> list[Override]:
    return OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))


def quoted(text: str) -> str:
    return QuotedString(text=text, quote=Quote.single).with_quotes()


def sweep_name(config: DictConfig) -> str:
    """The experiment's name, or, when the sweep varies what the name is made of, the swept
    values joined with ``+`` (``-m model/cell=lstm,gru`` -> ``lcd_lstm+gru``)."""
    swept = {
        o.key_or_group: [str(v) for v in o.sweep_string_iterator()]
        for o in command_line(config)
        if o.is_sweep_override() and not o.is_interval_sweep()  # Optuna samples an interval
    }
    for key in ("name", "experiment"):
        if key in swept:
            return "+".join(swept[key])
    raw = OmegaConf.to_container(config, resolve=False).get("name")
    if isinstance(raw, str) and "${hydra:" not in raw:
        return str(config.name)  # an experiment's own name
    choices = config.hydra.runtime.choices
    return "_".join("+".join(swept.get(part, [str(choices[part])])) for part in NAME_PARTS)


class SweepFolder(Callback):
    """Fixes ``hydra.sweep.dir``, the W&B group and what names the runs, for the parent
    and every job, before the sweep starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        given = {o.lstrip("+").split("=", 1)[0] for o in config.hydra.overrides.hydra}
        with read_write(config), open_dict(config.hydra.job.env_set):
            name, overrides = sweep_name(config), config.hydra.overrides.hydra
            if "hydra.sweep.dir" not in given:
                config.name = name
                config.hydra.sweep.dir = str(config.hydra.sweep.dir)
                overrides.append(f"hydra.sweep.dir={quoted(config.hydra.sweep.dir)}")
            if GROUP not in os.environ and f"hydra.job.env_set.{GROUP}" not in given:
                group = f"{name}-{Path(config.hydra.sweep.dir).name}"
                config.hydra.job.env_set[GROUP] = group
                overrides.insert(0, f"+hydra.job.env_set.{GROUP}={quoted(group)}")
            excluded = "hydra.job.config.override_dirname.exclude_keys"
            if excluded not in given:
                fixed = [o.key_or_group for o in command_line(config) if not o.is_sweep_override()]
                overrides.insert(0, f"{excluded}=[{','.join(quoted(key) for key in fixed)}]")


def job_record(config: DictConfig, job_return: JobReturn) -> tuple[dict, Exception | None]:
    """The job's overrides, status, error (which Hydra's ``return_value`` raises), final
    metrics, the best value in its CSV log of each metric its task lists (``val/loss
    (best)``) and the metrics summary.md shows: its task's, each number under one name."""
    folder, error, metrics, rows = Path(config.hydra.runtime.output_dir), None, {}, []
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # Hydra's own line on the error
            _ = job_return.return_value
    except Exception as raised:  # noqa: BLE001 - whatever the job raised
        error = raised
    if error is None and (folder / METRICS).is_file():
        metrics = json.loads((folder / METRICS).read_text())
    if error is None and (folder / "csv" / "metrics.csv").is_file():
        with (folder / "csv" / "metrics.csv").open(newline="") as file:
            rows = list(csv.DictReader(file))
    target = OmegaConf.select(config, "data.task._target_")
    task, report = REGISTRY.get(target, SequenceTask), report_for(target)
    for metric, better in report.metrics.items():
        if logged := [float(row[metric]) for row in rows if row.get(metric)]:
            metrics[f"{metric} (best)"] = (min if better == "min" else max)(logged)
    same, code = SAME.get(getattr(task, "kind", ""), {}), getattr(error, "code", None)
    return {
        "job": int(config.hydra.job.num), "overrides": list(job_return.overrides or []),
        "status": "completed" if error is None else "failed" + (f" (exit {code})" if code else ""),
        "error": "" if error is None else job_error(error, limit=300),
        "metrics": metrics, "folder": str(folder),
        "shown": [n for n in report.metrics if same.get(n) not in report.metrics],
    }, error  # fmt: skip


def metric_names(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(n for r in records for n in r["metrics"]))


def split(overrides: list[str]) -> dict[str, str]:
    return dict(o.split("=", 1) if "=" in o else (o, "") for o in overrides)


def aggregate(records: list[dict]) -> list[tuple[list[str], dict]]:
    """Per configuration (the jobs whose overrides differ only in ``seed``): its overrides,
    and its row: one column per override key ("" where it has none), n (its completed
    jobs), each metric's statistics (``val/loss mean``, ``val/loss sd``, ...; NaN without a
    value)."""
    configs: dict[tuple, list[dict]] = {}
    for r in records:
        key = tuple(o for o in r["overrides"] if o.split("=")[0].lstrip("+~") != "seed")
        configs.setdefault(key, []).append(r["metrics"] if r["status"] == "completed" else None)
    result, keys = [], dict.fromkeys(k for c in configs for k in split(c))
    for overrides, jobs in configs.items():
        done = [m for m in jobs if m is not None]
        row = {k: split(overrides).get(k, "") for k in keys} | {"n": len(done)}
        for name in metric_names(records):
            v = [m[name] for m in done if name in m] or [math.nan]
            sd = statistics.stdev(v) if len(v) > 1 else math.nan
            stats = (statistics.mean(v), sd, statistics.median(v), min(v), max(v))
            row |= {f"{name} {s}": value for s, value in zip(STATISTICS, stats, strict=True)}
        result.append((list(overrides), row))
    return result


def table(header: list[str], rows: list[list]) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)]) + "\n"


def mean_sd(row: dict, name: str) -> str:
    mean, sd = row.get(f"{name} mean", math.nan), row.get(f"{name} sd", math.nan)
    return "" if math.isnan(mean) else f"{mean:.4g}" + ("" if math.isnan(sd) else f" ± {sd:.2g}")


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue())


def write_summary(sweep_dir: Path, records: list[dict]) -> tuple[str, list[dict]]:
    """summary.md, summary.csv and summary_by_config.csv in the sweep folder: the markdown
    and the configurations' rows."""
    every = set.intersection(*(set(r["overrides"]) for r in records)) if records[1:] else set()
    names = [n for n in dict.fromkeys(n for r in records for n in r["shown"])
             if any(n in r["metrics"] for r in records)]  # fmt: skip
    error = ["error"] if any(r["error"] for r in records) else []
    text = table(["job", "status", "overrides", *names, *error], [
        [r["job"], r["status"], " ".join(o for o in r["overrides"] if o not in every)]
        + [f"{r['metrics'][n]:.4g}" if n in r["metrics"] else "" for n in names]
        + [r["error"] if len(r["error"]) <= 60 else r["error"][:57] + "..."] * len(error)
        for r in records
    ])  # fmt: skip
    configs = aggregate(records)
    text += "\nper configuration, over seeds (mean ± sd):\n\n" + table(
        ["configuration", "n", *names],
        [[" ".join(o for o in c if o not in every), row["n"]] + [mean_sd(row, n) for n in names]
         for c, row in configs],
    )  # fmt: skip
    if shared := " ".join(o for o in records[0]["overrides"] if o in every):
        text = f"overrides of every job: `{shared}`\n\n{text}"
    write_atomically(sweep_dir / "summary.md", text)
    keys = list(dict.fromkeys(k for r in records for k in split(r["overrides"])))
    fields = ["job", *keys, "status", "error", *metric_names(records), "folder"]
    jobs = [r | split(r["overrides"]) | r["metrics"] for r in records]
    write_csv(sweep_dir / "summary.csv", jobs, fields)
    rows = [row for _, row in configs]
    write_csv(sweep_dir / "summary_by_config.csv", rows, list(rows[0]))
    return text, rows


def log_to_wandb(sweep_dir: Path, rows: list[dict], settings: dict) -> Path | None:
    """``rows`` (summary_by_config.csv's) as a ``wandb.Table`` in an offline run of the
    sweep's group; a W&B failure warns and the sweep goes on."""
    import wandb

    folder, columns = sweep_dir / "summary", list(rows[0])
    try:
        with env_override({"WANDB_DATA_DIR": str(folder / "wandb")}):  # its staged table
            folder.mkdir(exist_ok=True)
            run = wandb.init(
                dir=folder, mode="offline", job_type="summary", name=f"{settings['group']}-summary",
                settings=wandb.Settings(silent=True), **settings,
            )  # fmt: skip
            with run:
                data = [[r[c] for c in columns] for r in rows]
                run.log({"seeds": wandb.Table(columns=columns, data=data)})
            wandb.teardown()  # waits until W&B's service has written the run's file
            return Path(run.dir).parent
    except Exception as error:  # noqa: BLE001 - the sweep's result must not depend on W&B
        warnings.warn(f"the sweep's W&B summary run was not written: {error}", stacklevel=2)
        return None


def read_records(sweep_dir: Path) -> list[dict]:
    records = [json.loads(p.read_text()) for p in (sweep_dir / RECORDS).glob("*.json")]
    return sorted(records, key=lambda r: r["job"])


class SweepSummary(Callback):
    """Records each multirun job and writes the summary after each job and at the end."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        from pytorch_lightning.utilities import rank_zero_only

        if config.hydra.mode != RunMode.MULTIRUN or rank_zero_only.rank != 0:
            return
        record, error = job_record(config, job_return)
        if error is not None:
            trace = error if getattr(error, "code", None) is None else None  # JobFailed said it
            log.error(
                f"job #{record['job']} failed ({record['error']}); the sweep goes on",
                exc_info=trace,
            )
            job_return.status, job_return.return_value = JobStatus.COMPLETED, None  # no re-raise
        sweep_dir = Path(config.hydra.sweep.dir)
        (sweep_dir / RECORDS).mkdir(parents=True, exist_ok=True)
        write_atomically(sweep_dir / RECORDS / f"{record['job']}.json", json.dumps(record))
        write_summary(sweep_dir, read_records(sweep_dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not (records := read_records(sweep_dir)):
            return
        text, rows = write_summary(sweep_dir, records)
        print(f"\nsweep summary ({sweep_dir}/summary.md, .csv, _by_config.csv):\n\n{text}")
        if OmegaConf.select(config, "logger.wandb") is not None:  # not logger=csv, none
            group = config.hydra.job.env_set.get(GROUP)  # set by SweepFolder
            HydraConfig.instance().set_config(config)  # the ${hydra:...} of the group's default
            with env_override({GROUP: group} if group else {}):
                wandb = config.logger.wandb
                settings = dict(
                    project=wandb.project, group=wandb.group, tags=list(wandb.tags or [])
                )
            if run := log_to_wandb(sweep_dir, rows, settings):
                print(f"W&B summary run: {run}")
                print(f"upload the sweep with: wandb sync {sweep_dir}/*/wandb/offline-run-*")
        if failed := [f"#{r['job']}" for r in records if r["status"] != "completed"]:
            jobs = f"{len(failed)} of {len(records)} jobs failed: {', '.join(failed)}"
            print(f"error: {jobs}", file=sys.stderr)
            sys.exit(1)


def job_error(error: BaseException, limit: int | None = None) -> str:
    """A failed job's error on one line: its own message as it is, else ``Type: message``."""
    if getattr(error, "code", None) is None:  # not one of train.JobFailed's lines
        return one_line(error, limit)
    text = str(error).removeprefix("error: ")  # already the job's one-line "error: ..."
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
