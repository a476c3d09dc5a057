"""Figures, tables and statistics of a study, read from its run folders only.

Runs are grouped by sweep (the experiment ``name``) and init. The sweep's task says what
is reported (the study hooks of ``core.tasks.base.SequenceTask``); per compared number
and init: the median with a bootstrap 95% interval, and contextual against each other
init, an exact Mann-Whitney test. Written to the output folder: ``tables.md``,
``summary.json``, the figures, and an offline W&B run of them in the study's group.
"""

import argparse
import importlib
import json
from pathlib import Path

from contextual_rnn.analysis.runs import by_init, find_runs, read_run
from contextual_rnn.analysis.statistics import compare
from contextual_rnn.analysis.tables import markdown
from contextual_rnn.analysis.wandb_export import log_to_wandb


def summarise_sweep(runs: list[dict], groups: dict[str, list[dict]]) -> dict:
    task = runs[0]["task_class"]
    for run in runs:
        run["numbers"] = task.run_numbers(run["curve"])
    return {
        "task": runs[0]["task"],
        "preset": runs[0]["preset"],
        "runs": len(runs),
        "unfinished": [r["folder"] for r in runs if r["status"] != "finished"],
        "max_epochs": sorted({r["max_epochs"] for r in runs}),
        "comparisons": {key: compare(groups, key, b) for key, b in task.compared().items()},
        "per_run": [
            {"init": r["init"], "seed": r["seed"], "folder": r["folder"], **r["numbers"]}
            for r in runs
        ],
    }


def write_summary(summary: dict, out: Path) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")


def aggregate(
    paths: list[str | Path], out: str | Path, wandb_group: str | None = None, fans: bool = True
) -> dict:
    """``fans=False`` skips what reloads the trained modules (calibration, sampled fans)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [read_run(folder) for folder in find_runs(paths)]
    runs = [r for r in runs if r["curve"]]  # a run killed before its first validation
    sweeps: dict[str, list[dict]] = {}
    for run in runs:
        sweeps.setdefault(run["sweep"], []).append(run)
    summary = {"runs": len(runs), "sweeps": {}, "calibration": []}
    figures, captions = [], []
    for name, members in sorted(sweeps.items()):
        task, groups = members[0]["task_class"], by_init(members)
        summary["sweeps"][name] = summarise_sweep(members, groups)
        figures += task.figures(name, groups, out, checkpoints=fans)
        rows = task.calibration(groups) if fans else []
        summary["calibration"] += [{"sweep": name, **row} for row in rows]
        if rows and task.calibration_caption not in captions:
            captions.append(task.calibration_caption)
    (out / "tables.md").write_text(markdown(summary, captions))
    write_summary(summary, out)
    summary["figures"] = [p.name for p in figures]
    group = wandb_group or Path(paths[0]).resolve().name
    summary["wandb_run"] = log_to_wandb(summary, figures, out, group)
    write_summary(summary, out)
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="aggregate.py", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or a study folder")
    parser.add_argument("--out", help="output folder (default: <first path>/aggregate)")
    parser.add_argument(
        "--group", help="the W&B group of the aggregate run (default: the folder's name)"
    )
    parser.add_argument(
        "--import", dest="modules", action="append", default=[], metavar="MODULE",
        help="import this module first (it defines a task of yours: its metrics and figures)",
    )  # fmt: skip
    parser.add_argument(
        "--no-fans", action="store_true",
        help="skip what reloads the trained modules (calibration, sampled fans)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for module in args.modules:
        importlib.import_module(module)
    out = Path(args.out or Path(args.paths[0]) / "aggregate")
    summary = aggregate(args.paths, out, args.group, fans=not args.no_fans)
    print((out / "tables.md").read_text())
    figures = ", ".join(summary["figures"])
    print(f"{summary['runs']} runs; written to {out}: {figures}, tables.md, summary.json")
    return summary
