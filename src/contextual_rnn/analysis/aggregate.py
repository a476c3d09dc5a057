"""Figures, tables and statistics of a study, read from its run folders or from the
curves files an earlier aggregate wrote (``curves/<sweep>.csv``, small enough to commit).

Runs are grouped by sweep (the experiment ``name``) and init. The sweep's task says what
is reported (the study hooks of ``core.tasks.base.SequenceTask``); the statistics are
those of ``analysis.statistics``. The study's ``contrasts`` (conf/study.yaml) compare
contextual h0 with another init at one measure across sweeps. Written to the output
folder: ``tables.md``, ``summary.json``, ``curves/``, the figures, and an offline W&B
run of them in the study's group. Figures and calibration that reload trained modules
need run folders.
"""

import argparse
import importlib
import json
from pathlib import Path

from omegaconf import OmegaConf

from contextual_rnn.analysis.runs import by_init, read_all, write_curves
from contextual_rnn.analysis.statistics import compare
from contextual_rnn.analysis.study import CONFIG
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


def contrasts(study: dict, sweeps: dict[str, list[dict]]) -> dict:
    """Each contrast of the study config: per sweep it names that ran, contextual against
    ``other`` at ``measure``; a sweep without ``other`` runs takes those of ``shared``."""
    found = {}
    for name, contrast in study.get("contrasts", {}).items():
        other, measure, rows = contrast["other"], contrast["measure"], []
        for sweep in contrast["sweeps"]:
            groups = by_init(sweeps.get(sweep, []))
            if other not in groups and contrast.get("shared") in sweeps:
                groups[other] = by_init(sweeps[contrast["shared"]]).get(other, [])
            if "contextual" not in groups or not groups.get(other):
                continue
            pair = {other: groups[other], "contextual": groups["contextual"]}
            result = compare(pair, measure, contrast.get("better", "min"))
            rows.append({
                "sweep": sweep,
                "other": result["per_init"][other]["interval"]["median"],
                "contextual": result["per_init"]["contextual"]["interval"]["median"],
                "test": result["tests"][f"contextual vs {other}"],
            })  # fmt: skip
        if rows:
            found[name] = {**contrast, "rows": rows}
    return found


def write_summary(summary: dict, out: Path) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")


def aggregate(
    paths: list[str | Path],
    out: str | Path,
    wandb_group: str | None = None,
    fans: bool = True,
    config: str | Path = CONFIG,
) -> dict:
    """``fans=False`` skips what reloads the trained modules (calibration, sampled fans)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [r for r in read_all(paths) if r["curve"]]  # a run killed before its first validation
    fans = fans and all(r["folder"] for r in runs)  # curves files hold no trained modules
    sweeps: dict[str, list[dict]] = {}
    for run in runs:
        sweeps.setdefault(run["sweep"], []).append(run)
    summary = {"runs": len(runs), "sweeps": {}, "calibration": [], "contrasts": {}}
    figures, captions = [], []
    for name, members in sorted(sweeps.items()):
        task, groups = members[0]["task_class"], by_init(members)
        summary["sweeps"][name] = summarise_sweep(members, groups)
        figures += task.figures(name, groups, out, checkpoints=fans)
        rows = task.calibration(groups) if fans else []
        summary["calibration"] += [{"sweep": name, **row} for row in rows]
        if rows and task.calibration_caption not in captions:
            captions.append(task.calibration_caption)
    study = OmegaConf.to_container(OmegaConf.load(config))
    summary["contrasts"] = contrasts(study, sweeps)
    write_curves(runs, out / "curves")
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
        "--config", default=str(CONFIG), help="the study config whose contrasts are tabled"
    )
    parser.add_argument(
        "--no-fans", action="store_true",
        help="skip what reloads the trained modules (calibration, sampled fans)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for module in args.modules:
        importlib.import_module(module)
    out = Path(args.out or Path(args.paths[0]) / "aggregate")
    summary = aggregate(args.paths, out, args.group, not args.no_fans, args.config)
    print((out / "tables.md").read_text())
    figures = ", ".join(summary["figures"])
    print(f"{summary['runs']} runs; written to {out}: {figures}, tables.md, summary.json")
    return summary
