"""Figures, tables and statistics of a study, read from its run folders only.

A run is any folder with ``csv/metrics.csv``; its sweep (the experiment ``name``), init,
preset and seed come from ``.hydra/``. Runs are grouped by (sweep, init). For every
sweep:

- ART: per run, the epochs (and wall and CPU seconds) at the first validation with
  accuracy >= 90%, 99%, 99.9%, 100% (never: infinity, the slowest possible); per init,
  the median with a bootstrap 95% interval; contextual against zero and against free,
  an exact two-sided Mann-Whitney test (p-value, and the probability that a
  contextual run is faster). Fig. 2: validation NLL and accuracy against epochs.
- LCD: teacher-forced error (val/mse) and free-running rollout error
  (val/rollout_mse) per init after 2, 5 and 10 epochs (how fast) and at the end, with
  the same statistics (lower is better); the
  calibration of the generated fans (``calibration``); Fig. 5 (errors per epoch) and
  Fig. 6 (sampled trajectories of the best contextual run).

Written to the output folder: ``tables.md``, ``summary.json``, the figures, and an
offline W&B run (job type ``aggregate``, in the study's group) with the tables as
``wandb.Table`` and the figures, so that ``wandb sync`` of the study folder gives one
dashboard. Run it as ``python scripts/aggregate.py --help``.
"""

import argparse
import csv
import json
import math
import os
from pathlib import Path

import numpy as np

from contextual_rnn.analysis.statistics import mann_whitney, median_ci

INIT_ORDER = ("zero", "free", "contextual")
ART_THRESHOLDS = (0.9, 0.99, 0.999, 1.0)
LCD_METRICS = ("val/mse", "val/rollout_mse", "val/loss")
LCD_EARLY = (2, 5, 10)  # epochs at which LCD's early curve is compared (the paper's speed claim)


# --- reading runs ---------------------------------------------------------------------------


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Every run folder at or under the given paths, each once."""
    found = set()
    for path in map(Path, paths):
        found.update(p.parent.parent.resolve() for p in path.rglob("csv/metrics.csv"))
    return sorted(found)


def hydra_facts(folder: Path) -> dict:
    """Sweep name, init, preset, task and seed, from the run's Hydra files."""
    from omegaconf import OmegaConf

    config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    choices = OmegaConf.load(folder / ".hydra" / "hydra.yaml").hydra.runtime.choices
    raw = OmegaConf.to_container(config, resolve=False)
    name = raw.get("name")
    if not isinstance(name, str) or "${" in name:
        name = f"{choices['data']}_{choices['model/cell']}"
    return {
        "sweep": name,
        "init": choices["model/init"],
        "preset": choices.get("preset"),
        "task": choices["data"],
        "seed": raw.get("seed"),
        "max_epochs": raw.get("trainer", {}).get("max_epochs"),
    }


def read_rows(folder: Path) -> list[dict]:
    with (folder / "csv" / "metrics.csv").open(newline="") as file:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(file)]


def validation_curve(rows: list[dict]) -> list[dict]:
    """Validation rows with ``epochs``: epochs trained at that validation (fractional)."""
    epoch_ends = [r for r in rows if "train/loss" in r and r.get("epoch") == 0]
    steps_per_epoch = epoch_ends[0]["step"] + 1 if epoch_ends else None
    curve = []
    for row in rows:
        if "val/loss" not in row:
            continue
        epochs = (row["step"] + 1) / steps_per_epoch if steps_per_epoch else row["epoch"] + 1
        curve.append({"epochs": round(epochs, 4), **row})
    return curve


def read_run(folder: Path) -> dict:
    facts = hydra_facts(folder)
    status_file = folder / "status.json"
    status = json.loads(status_file.read_text()) if status_file.is_file() else {}
    return {
        "folder": str(folder),
        **facts,
        "status": status.get("status", "unfinished"),
        "curve": validation_curve(read_rows(folder)),
    }


# --- per-run numbers --------------------------------------------------------------------------


def first_reaching(curve: list[dict], threshold: float) -> dict:
    """Epochs, wall and CPU seconds at the first validation with val/acc >= threshold."""
    for point in curve:
        if point.get("val/acc", -1.0) >= threshold - 1e-12:
            return {
                "epochs": point["epochs"],
                "wall_s": point.get("time/wall_s", math.nan),
                "cpu_s": point.get("time/cpu_s", math.nan),
            }
    return {"epochs": math.inf, "wall_s": math.inf, "cpu_s": math.inf}


def art_numbers(run: dict) -> dict:
    curve = run["curve"]
    accuracy = [p["val/acc"] for p in curve]
    numbers = {
        "epochs trained": curve[-1]["epochs"] if curve else 0.0,
        "final val/acc": accuracy[-1] if accuracy else math.nan,
        "best val/acc": max(accuracy) if accuracy else math.nan,
        "final val/loss": curve[-1]["val/loss"] if curve else math.nan,
    }
    for threshold in ART_THRESHOLDS:
        reached = first_reaching(curve, threshold)
        for unit, value in reached.items():
            numbers[f"{unit} to {threshold:.1%}"] = value
    return numbers


def lcd_numbers(run: dict) -> dict:
    curve = run["curve"]
    last = curve[-1] if curve else {}
    numbers = {f"final {m}": last.get(m, math.nan) for m in LCD_METRICS}
    for epoch in LCD_EARLY:
        point = next((p for p in curve if p["epochs"] == epoch), {})
        for metric in LCD_METRICS[:2]:
            numbers[f"{metric} at epoch {epoch}"] = point.get(metric, math.nan)
    return numbers | {"epochs trained": last.get("epochs", 0.0)}


# --- statistics per sweep ---------------------------------------------------------------------


def by_init(runs: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for run in sorted(runs, key=lambda r: (order(r["init"]), r["seed"])):
        grouped.setdefault(run["init"], []).append(run)
    return grouped


def order(init: str) -> int:
    return INIT_ORDER.index(init) if init in INIT_ORDER else len(INIT_ORDER)


def compare(groups: dict[str, list[dict]], key: str) -> dict:
    """Per init: values, median and CI; contextual against each other init, where
    ``p_better`` is the probability that a contextual run beats one of the other init."""
    higher_is_better = key.endswith("val/acc")
    result = {"per_init": {}, "tests": {}, "better": "higher" if higher_is_better else "lower"}
    for init, runs in groups.items():
        values = [r["numbers"][key] for r in runs]
        med, low, high = median_ci(values)
        reached = sum(math.isfinite(v) for v in values)
        result["per_init"][init] = {
            "values": values,
            "seeds": [r["seed"] for r in runs],
            "median": med,
            "ci95": [low, high],
            "reached": f"{reached}/{len(values)}",
        }
    if "contextual" in groups:
        ours = [r["numbers"][key] for r in groups["contextual"]]
        for other in groups:
            if other != "contextual":
                theirs = [r["numbers"][key] for r in groups[other]]
                test = mann_whitney(ours, theirs)
                test["p_better"] = 1 - test["p_faster"] if higher_is_better else test["p_faster"]
                result["tests"][f"contextual vs {other}"] = test
    return result


def summarise_sweep(runs: list[dict]) -> dict:
    task = runs[0]["task"]
    numbers = art_numbers if task == "art" else lcd_numbers
    for run in runs:
        run["numbers"] = numbers(run)
    groups = by_init(runs)
    keys = (
        [
            *[f"epochs to {t:.1%}" for t in ART_THRESHOLDS],
            *[f"cpu_s to {t:.1%}" for t in ART_THRESHOLDS[1:3]],
            "final val/acc",
        ]
        if task == "art"
        else [
            *[f"{m} at epoch {e}" for m in LCD_METRICS[:2] for e in LCD_EARLY],
            *[f"final {m}" for m in LCD_METRICS],
        ]
    )
    return {
        "task": task,
        "preset": runs[0]["preset"],
        "runs": len(runs),
        "unfinished": [r["folder"] for r in runs if r["status"] != "finished"],
        "max_epochs": sorted({r["max_epochs"] for r in runs}),
        "comparisons": {key: compare(groups, key) for key in keys},
        "per_run": [
            {"init": r["init"], "seed": r["seed"], "folder": r["folder"], **r["numbers"]}
            for r in runs
        ],
    }


# --- tables -----------------------------------------------------------------------------------


def number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "never"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def p_value(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def markdown(summary: dict) -> str:
    lines = [
        "# Study tables",
        "",
        "Medians over seeds with a bootstrap 95% interval; `never` = not reached within the "
        "run's epoch cap (counted as the slowest). p: exact two-sided Mann-Whitney test of "
        "contextual against the other init; P(contextual better): the probability that a "
        "contextual run beats a run of the other init (faster, lower error, or higher "
        "accuracy; 0.5 = no difference). cpu_s: this process's CPU seconds (less disturbed "
        "than wall time by jobs sharing the cores; wall seconds are in summary.json).",
        "",
    ]
    for name, sweep in summary["sweeps"].items():
        lines += [f"## {name} ({sweep['task'].upper()}, preset {sweep['preset']})", ""]
        lines.append(
            f"{sweep['runs']} runs, epoch cap {', '.join(map(str, sweep['max_epochs']))}"
            + (f"; unfinished: {len(sweep['unfinished'])}" if sweep["unfinished"] else "")
            + "."
        )
        lines += [
            "",
            "| measure | init | per seed | median [95% CI] | reached "
            "| vs contextual: p | P(contextual better) |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, comparison in sweep["comparisons"].items():
            for init, stats in comparison["per_init"].items():
                test = comparison["tests"].get(f"contextual vs {init}")
                p = p_value(test["p"]) if test else ""
                better = p_value(test["p_better"]) if test else ""
                low, high = stats["ci95"]
                lines.append(
                    f"| {key} | {init} | {' '.join(number(v) for v in stats['values'])} "
                    f"| {number(stats['median'])} [{number(low)}, {number(high)}] "
                    f"| {stats['reached']} | {p} | {better} |"
                )
        lines.append("")
    if summary.get("calibration"):
        lines += [
            "## Calibration of the generated fans (LCD)",
            "",
            "Share of the true points (t = 1..25) inside the sampled fan's mean +-1 and +-2 "
            "standard deviations (a Normal would give 68% and 95%); mean over seeds.",
            "",
            "| sweep | init | periods | inside +-1 std | inside +-2 std | fan width (mean std) |",
            "|---|---|---|---|---|---|",
        ]
        for row in summary["calibration"]:
            lines.append(
                f"| {row['sweep']} | {row['init']} | {row['periods']} | {row['inside_1']:.2f} "
                f"| {row['inside_2']:.2f} | {row['width']:.3g} |"
            )
        lines.append("")
    return "\n".join(lines)


# --- calibration of the fans ------------------------------------------------------------------


def calibration(runs: list[dict], samples: int = 100, per_period: int = 20) -> list[dict]:
    """Coverage of the true curves by each LCD run's sampled fans, seen and unseen periods."""
    import torch

    from contextual_rnn.core.checkpoints import load_module

    rows = []
    for init, members in by_init(runs).items():
        found: dict[str, list[list[float]]] = {"training": [], "validation": []}
        for run in members:
            module = load_module(run["folder"], "last")
            task = module.task
            for split, periods in (
                ("training", task.periods["train"]),
                ("validation", task.periods["val"]),
            ):
                generator = torch.Generator().manual_seed(run["seed"] or 0)
                low, high = task.x0_range
                x0 = low + (high - low) * torch.rand(per_period * len(periods), generator=generator)
                period = torch.tensor(periods).repeat_interleave(per_period)
                conditions = {"x0": x0, "period": period}
                torch.manual_seed(0)
                fans = module.rollout(conditions, sample=True, num_samples=samples)
                truth = task.truth(conditions, fans.shape[-1] - 1)[:, 1:]
                mean, std = fans.mean(dim=1)[:, 1:], fans.std(dim=1)[:, 1:]
                distance = (truth - mean).abs()
                found[split].append(
                    [
                        float((distance <= std).float().mean()),
                        float((distance <= 2 * std).float().mean()),
                        float(std.mean()),
                    ]
                )
        for split, values in found.items():
            one, two, width = np.mean(values, axis=0)
            rows.append(
                {"sweep": members[0]["sweep"], "init": init, "periods": split,
                 "inside_1": one, "inside_2": two, "width": width}
            )  # fmt: skip
    return rows


# --- figures ----------------------------------------------------------------------------------


def plot_curves(ax, groups: dict[str, list[dict]], metric: str, ylabel: str, log: bool = False):
    """Each seed a thin line, the median over seeds at each validation a thick one."""
    for color, (init, runs) in enumerate(groups.items()):
        by_x: dict[float, list[float]] = {}
        for run in runs:
            x = [p["epochs"] for p in run["curve"] if metric in p]
            y = [p[metric] for p in run["curve"] if metric in p]
            ax.plot(x, y, color=f"C{color}", lw=0.6, alpha=0.35)
            for xi, yi in zip(x, y, strict=True):
                by_x.setdefault(xi, []).append(yi)
        xs = sorted(x for x, v in by_x.items() if len(v) == len(runs))  # all seeds still running
        ax.plot(xs, [np.median(by_x[x]) for x in xs], color=f"C{color}", lw=2,
                label=f"{init} (median of {len(runs)})")  # fmt: skip
    ax.set(xlabel="epochs trained", ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def figure_art(name: str, runs: list[dict], out: Path) -> Path:
    import matplotlib.pyplot as plt

    from contextual_rnn.analysis.plotting import save

    groups = by_init(runs)
    fig, (nll, acc, times) = plt.subplots(1, 3, figsize=(15, 3.8), dpi=100)
    plot_curves(nll, groups, "val/loss", "validation NLL", log=True)
    plot_curves(acc, groups, "val/acc", "validation accuracy")
    for ax in (nll, acc):
        ax.set_xscale("log")  # the first epochs, validated every quarter, matter most
    labels = []
    for i, threshold in enumerate(ART_THRESHOLDS[:3]):
        never = []
        for color, (init, members) in enumerate(groups.items()):
            values = [r["numbers"][f"epochs to {threshold:.1%}"] for r in members]
            finite = [v for v in values if math.isfinite(v)]
            y = np.full(len(finite), i + 0.25 * (color - 1))
            times.scatter(finite, y, color=f"C{color}", s=18, label=init if i == 0 else None)
            if len(finite) < len(values):
                never.append(f"{init} {len(values) - len(finite)}")
        labels.append(f"{threshold:.1%}" + (f"\nnever: {', '.join(never)}" if never else ""))
    times.set_yticks(range(3), labels, fontsize=8)
    longest = max((r["curve"][-1]["epochs"] for r in runs if r["curve"]), default=1.0)
    times.set_xlim(0.2, max(longest, 1.0) * 1.2)  # fixed: a panel with no dot still has an axis
    times.set(xlabel="epochs to reach a validation accuracy (a dot per seed)", xscale="log")
    times.grid(alpha=0.3)
    times.legend(fontsize=8)
    fig.suptitle(f"{name}: ART, fast weights, validation per seed")
    fig.tight_layout()
    path = out / f"fig2_{name}.png"
    save(fig, path)
    return path


def figure_lcd(name: str, runs: list[dict], out: Path) -> Path:
    import matplotlib.pyplot as plt

    from contextual_rnn.analysis.plotting import save

    groups = by_init(runs)
    fig, (mse, rollout) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    plot_curves(mse, groups, "val/mse", "val squared error (scaled changes, teacher forced)", True)
    plot_curves(rollout, groups, "val/rollout_mse", "val rollout MSE (from x(0), mean h0)", True)
    fig.suptitle(f"{name}: LCD, LSTM 128, unseen periods 1-4")
    fig.tight_layout()
    path = out / f"fig5_{name}.png"
    save(fig, path)
    return path


def figure_fans(name: str, runs: list[dict], out: Path, samples: int = 10) -> Path | None:
    """The paper's Fig. 6: fans of the contextual run with the lowest final val/loss."""
    import matplotlib.pyplot as plt
    import torch

    from contextual_rnn.analysis.plotting import save, trajectory_fan
    from contextual_rnn.core.checkpoints import load_module

    contextual = [r for r in runs if r["init"] == "contextual" and r["curve"]]
    if not contextual:
        return None
    best = min(contextual, key=lambda r: r["curve"][-1]["val/loss"])
    module = load_module(best["folder"], "last")
    task = module.task
    periods = [task.periods["train"][1], task.periods["val"][2]]  # one seen, one unseen
    conditions = {"x0": torch.full((2,), 3.0), "period": torch.tensor(periods)}
    torch.manual_seed(0)
    fans = module.rollout(conditions, sample=True, num_samples=samples)
    truth = task.truth(conditions, fans.shape[-1] - 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for i, ax in enumerate(axes):
        trajectory_fan(fans[i], truth[i], task.describe(conditions, i), ax=ax)
    fig.suptitle(f"{name}: {samples} sampled h0, contextual seed {best['seed']}", fontsize=9)
    fig.tight_layout()
    path = out / f"fig6_{name}.png"
    save(fig, path)
    return path


# --- W&B ----------------------------------------------------------------------------------------


def log_to_wandb(summary: dict, figures: list[Path], out: Path, group: str) -> str | None:
    """The aggregate as one offline W&B run in the study's group: tables and figures."""
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project="contextual-rnn",
        group=group,
        job_type="aggregate",
        name=f"aggregate-{group}",
        dir=str(out),
        mode=os.environ.get("WANDB_MODE", "offline"),
        config={"sweeps": list(summary["sweeps"])},
    )
    try:
        for name, sweep in summary["sweeps"].items():
            columns = [
                "init",
                "seed",
                *[k for k in sweep["per_run"][0] if k not in ("init", "seed", "folder")],
            ]
            rows = [
                [
                    r["init"],
                    r["seed"],
                    *[float(r[c]) if math.isfinite(r[c]) else None for c in columns[2:]],
                ]
                for r in sweep["per_run"]
            ]
            run.log({f"{name}/runs": wandb.Table(columns=columns, data=rows)})
            tests = [
                [key, pair, t["p"], t["p_better"]]
                for key, comparison in sweep["comparisons"].items()
                for pair, t in comparison["tests"].items()
            ]
            run.log(
                {
                    f"{name}/tests": wandb.Table(
                        columns=["measure", "comparison", "p", "P(contextual better)"], data=tests
                    )
                }
            )
            for key, comparison in sweep["comparisons"].items():
                for init, stats in comparison["per_init"].items():
                    if math.isfinite(stats["median"]):
                        run.summary[f"{name}/{key}/{init}/median"] = stats["median"]
        if summary.get("calibration"):
            columns = list(summary["calibration"][0])
            run.log(
                {
                    "calibration": wandb.Table(
                        columns=columns, data=[list(r.values()) for r in summary["calibration"]]
                    )
                }
            )
        for path in figures:
            run.log({f"figures/{path.stem}": wandb.Image(str(path))})
        return run.id
    finally:
        run.finish()


# --- command line -------------------------------------------------------------------------------


def aggregate(
    paths: list[str | Path], out: str | Path, wandb_group: str | None = None, fans: bool = True
) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [read_run(folder) for folder in find_runs(paths)]
    runs = [r for r in runs if r["curve"]]  # a run killed before its first validation
    sweeps: dict[str, list[dict]] = {}
    for run in runs:
        sweeps.setdefault(run["sweep"], []).append(run)
    summary = {"runs": len(runs), "sweeps": {}, "calibration": []}
    figures = []
    for name, members in sorted(sweeps.items()):
        summary["sweeps"][name] = summarise_sweep(members)
        if members[0]["task"] == "art":
            figures.append(figure_art(name, members, out))
        else:
            figures.append(figure_lcd(name, members, out))
            if fans:
                summary["calibration"] += calibration(members)
                fan = figure_fans(name, members, out)
                figures += [fan] if fan else []
    (out / "tables.md").write_text(markdown(summary))
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    summary["figures"] = [p.name for p in figures]
    group = wandb_group or Path(paths[0]).resolve().name
    summary["wandb_run"] = log_to_wandb(summary, figures, out, group)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="aggregate.py", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or a study folder")
    parser.add_argument("--out", help="output folder (default: <first path>/aggregate)")
    parser.add_argument(
        "--group", help="the W&B group of the aggregate run (default: the folder's name)"
    )
    parser.add_argument("--no-fans", action="store_true", help="skip LCD calibration and Fig. 6")
    args = parser.parse_args(argv)
    out = Path(args.out or Path(args.paths[0]) / "aggregate")
    summary = aggregate(args.paths, out, args.group, fans=not args.no_fans)
    print((out / "tables.md").read_text())
    figures = ", ".join(summary["figures"])
    print(f"{summary['runs']} runs; written to {out}: {figures}, tables.md, summary.json")
    return summary
