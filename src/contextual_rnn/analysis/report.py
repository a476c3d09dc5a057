"""What a study reports of each task's runs, as data (``REPORTS``: a ``Report`` per task
class name; a task without one gets ``Report()``, its val/loss), and the aggregate that
reports it: from run folders, or the curves files an earlier aggregate wrote
(``curves/<sweep>.csv``, small enough to commit), per sweep (the experiment ``name``) and
init, ``tables.md``, ``summary.json``, ``curves/``, the figures and an offline W&B run of
them in the study's group. The study's ``contrasts`` (conf/study.yaml) compare contextual
h0 with another init at one measure across sweeps. What reloads the trained modules (LCD's
sampled fans and their calibration) needs run folders.
"""

import argparse
import importlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from contextual_rnn.analysis.runs import by_init, read_all, write_curves
from contextual_rnn.analysis.stats import compare, holm
from contextual_rnn.analysis.study import CONFIG
from contextual_rnn.figures import curve_figure, fan_grid, save

# A sweep's runs by init: each run a dict with ``init``, ``seed``, ``folder``, ``curve`` (its
# validation rows, each with ``epochs`` trained and the logged metrics) and ``numbers``.
Groups = dict[str, list[dict]]
Panel = tuple[str, str, bool]  # metric, axis label, log scale


@dataclass(frozen=True)
class Report:
    """What the study reports of one task's runs."""

    metrics: dict[str, str] = field(default_factory=lambda: {"val/loss": "min"})  # min/max better
    thresholds: dict[str, tuple[float, ...]] = field(default_factory=dict)  # first reaching timed
    threshold_name: str = "{metric} {value:g}"  # a threshold in the run numbers' names
    early: tuple[str, ...] = ()  # metrics also read at each of ``early_epochs``
    early_epochs: tuple[int, ...] = ()
    compared: dict[str, str] | None = None  # None: final and best, epochs to each threshold
    figure: str = "curves"  # the curve figure is <figure>_<sweep>.png
    title: str = "validation per seed"
    panels: tuple[Panel, ...] = ()  # (): one panel per metric
    log_epochs: bool = False
    timed: tuple[str, tuple[float, ...]] | None = None  # a panel of dots: epochs to these
    fans: bool = False  # LCD's Fig. 6 and calibration, from the trained modules


ACCURACIES = (0.9, 0.99, 0.999, 1.0)
LCD_ERRORS = ("val/mse", "val/rollout_mse", "val_seen/mse", "val_seen/rollout_mse")
REPORTS = {
    # Fig. 2: epochs and seconds to each accuracy
    "ART": Report(
        metrics={"val/loss": "min", "val/acc": "max"},
        thresholds={"val/acc": ACCURACIES},
        threshold_name="{value:.1%}",
        compared={
            **{f"epochs to {t:.1%}": "min" for t in ACCURACIES},
            **{f"cpu_s to {t:.1%}": "min" for t in ACCURACIES},
            "final val/acc": "max",
        },
        figure="fig2",
        title="ART, fast weights, validation per seed",
        panels=(("val/loss", "validation NLL", True), ("val/acc", "validation accuracy", False)),
        log_epochs=True,  # the first epochs, validated every quarter, matter most
        timed=("val/acc", ACCURACIES[:3]),
    ),
    # Fig. 5 and 6: errors early (the paper's speed claim) and at the end; val_seen/ are the
    # training periods (validate_seen_periods); val/loss is val/mse here
    "LCD": Report(
        metrics={"val/loss": "min", **{m: "min" for m in LCD_ERRORS}},
        early=LCD_ERRORS[:2],
        early_epochs=(2, 5, 10),
        compared={
            **{f"{m} at epoch {e}": "min" for m in LCD_ERRORS[:2] for e in (2, 5, 10)},
            **{f"final {m}": "min" for m in LCD_ERRORS},
            **{f"best {m}": "min" for m in ("val/mse", "val_seen/mse")},
        },
        figure="fig5",
        title="LCD, LSTM 128, unseen periods 1-4",
        panels=(
            ("val/mse", "val squared error\n(scaled changes, teacher forced)", True),
            ("val/rollout_mse", "val rollout MSE\n(from x(0), mean h0)", True),
        ),
        fans=True,
    ),
}


def report_for(task_target: str | None) -> Report:
    """The report of the task a ``_target_`` names, found by its class name (so that the
    curves of runs of a task that has since moved module still find theirs)."""
    return REPORTS.get(str(task_target).rsplit(".", 1)[-1], Report())


# --- a run's numbers ---------------------------------------------------------------------------


def threshold(report: Report, metric: str, value: float) -> str:
    return report.threshold_name.format(metric=metric, value=value)


def first_reaching(curve: list[dict], metric: str, value: float, better: str) -> dict:
    """Epochs, wall and CPU seconds at the first validation whose ``metric`` reaches ``value``
    (never: infinity, the slowest possible)."""
    sign = 1 if better == "max" else -1
    for point in curve:
        if metric in point and sign * (point[metric] - value) >= -1e-12:
            return {
                "epochs": point["epochs"],
                "wall_s": point.get("time/wall_s", math.nan),
                "cpu_s": point.get("time/cpu_s", math.nan),
            }
    return {"epochs": math.inf, "wall_s": math.inf, "cpu_s": math.inf}


def run_numbers(report: Report, curve: list[dict]) -> dict[str, float]:
    """One run's numbers: epochs trained, the final and best value of every metric, the
    epochs, wall and CPU seconds to the first validation at each threshold, the final error
    (%) of an accuracy, and the early metrics at each early epoch."""
    numbers = {"epochs trained": curve[-1]["epochs"] if curve else 0.0}
    for metric, better in report.metrics.items():
        values = [point[metric] for point in curve if metric in point]
        numbers[f"final {metric}"] = values[-1] if values else math.nan
        numbers[f"best {metric}"] = (max if better == "max" else min)(values, default=math.nan)
    for metric, values in report.thresholds.items():
        for value in values:
            reached = first_reaching(curve, metric, value, report.metrics[metric])
            name = threshold(report, metric, value)
            numbers |= {f"{unit} to {name}": time for unit, time in reached.items()}
    if "val/acc" in report.metrics:
        numbers["final error %"] = 100 * (1 - numbers["final val/acc"])
    for epoch in report.early_epochs:
        point = next((p for p in curve if p["epochs"] == epoch), {})
        for metric in report.early:
            numbers[f"{metric} at epoch {epoch}"] = point.get(metric, math.nan)
    return numbers


def compared(report: Report) -> dict[str, str]:
    """The run numbers the tables compare across inits, each with its better direction."""
    if report.compared is not None:
        return report.compared
    found = {f"{which} {m}": b for m, b in report.metrics.items() for which in ("final", "best")}
    for metric, values in report.thresholds.items():
        found |= {f"epochs to {threshold(report, metric, v)}": "min" for v in values}
    return found


# --- figures -----------------------------------------------------------------------------------


def times_to_thresholds(ax, groups: Groups, report: Report, label: str) -> None:
    """A dot per seed at the epochs it took to reach each ``timed`` value; how many never
    did."""
    metric, values = report.timed
    names = [threshold(report, metric, value) for value in values]
    for i, name in enumerate(names):
        never = []
        for color, (init, members) in enumerate(groups.items()):
            reached = [r["numbers"][f"epochs to {name}"] for r in members]
            done = [v for v in reached if math.isfinite(v)]
            y = np.full(len(done), i + 0.25 * (color - 1))
            ax.scatter(done, y, color=f"C{color}", s=18, label=init if i == 0 else None)
            if len(done) < len(reached):
                never.append(f"{init} {len(reached) - len(done)}")
        if never:  # inside the panel, above the row's dots: a tick label this long widens the gap
            note = f"never: {', '.join(never)}"
            row = ax.get_yaxis_transform()  # x in the panel's width, y in rows
            ax.text(0.98, i + 0.4, note, transform=row, ha="right", va="center", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(-0.5, len(names) - 0.5)  # fixed: a row's note stays beside its row
    runs = [r for members in groups.values() for r in members if r["curve"]]
    longest = max((r["curve"][-1]["epochs"] for r in runs), default=1.0)
    ax.set_xlim(0.2, max(longest, 1.0) * 1.2)  # fixed: a panel with no dot still has an axis
    ax.set(xlabel=f"epochs to reach a {label} (a dot per seed)", xscale="log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def figures(report: Report, name: str, groups: Groups, out: Path, checkpoints: bool) -> list[Path]:
    """The sweep's figures, written to ``out``: its curves, one panel per metric (and one of
    the epochs to the timed thresholds); with ``checkpoints``, LCD's sampled fans."""
    panels = report.panels or tuple((metric, metric, False) for metric in report.metrics)
    title = f"{name}: {report.title}"
    fig, axes = curve_figure(title, groups, panels, extra=int(report.timed is not None))
    if report.log_epochs:
        for ax in axes[: len(panels)]:
            ax.set_xscale("log")
    if report.timed:
        label = next(label for metric, label, _ in panels if metric == report.timed[0])
        times_to_thresholds(axes[-1], groups, report, label)
    paths = [out / f"{report.figure}_{name}.png"]
    save(fig, paths[0])
    if report.fans and checkpoints and groups.get("contextual"):
        paths.append(fan_figure(name, groups["contextual"], out))
    return paths


def trained(run: dict):
    """The run's trained module: the one place the analysis needs the model's code."""
    from contextual_rnn.module import SequenceRegressor

    return SequenceRegressor.load(run["folder"], "last")


def sample_fans(module, conditions: dict, samples: int):
    """Fans (B, samples, T + 1) sampled after seeding 0, and the truth (B, T + 1)."""
    torch.manual_seed(0)
    fans = module.rollout(conditions, sample=True, num_samples=samples)
    return fans, module.task.truth(conditions, fans.shape[-1] - 1)


def fan_figure(name: str, contextual: list[dict], out: Path, samples: int = 10) -> Path:
    """The paper's Fig. 6: fans of the contextual run with the lowest final val/loss."""
    best = min(contextual, key=lambda r: r["curve"][-1]["val/loss"])
    module = trained(best)
    task = module.task
    periods = [task.periods["train"][1], task.periods["val"][2]]  # one seen, one unseen
    conditions = {"x0": torch.full((2,), 3.0), "period": torch.tensor(periods)}
    fans, truth = sample_fans(module, conditions, samples)
    titles = [task.describe(conditions, i) for i in range(len(periods))]
    title = f"{name}: {samples} sampled h0, contextual seed {best['seed']}"
    save(fan_grid(fans, truth, titles, title), out / f"fig6_{name}.png")
    return out / f"fig6_{name}.png"


CALIBRATION = (
    "Calibration of the generated fans: the share of the true points (t = 1..25) inside "
    "the sampled fan's mean +-1 and +-2 standard deviations (``inside_1``, ``inside_2``; "
    "a Normal would give 68% and 95%) and the fan's width (mean std); mean over seeds."
)


def calibration(groups: Groups, samples: int = 100, per_period: int = 20) -> list[dict]:
    """Coverage of the true curves by each run's sampled fans, seen and unseen periods."""
    rows = []
    for init, members in groups.items():
        found: dict[str, list[list[float]]] = {"training": [], "validation": []}
        for run in members:
            module = trained(run)
            task = module.task
            for split, key in (("training", "train"), ("validation", "val")):
                periods = task.periods[key]
                generator = torch.Generator().manual_seed(run["seed"] or 0)
                low, high = task.x0_range
                x0 = low + (high - low) * torch.rand(per_period * len(periods), generator=generator)
                period = torch.tensor(periods).repeat_interleave(per_period)
                fans, truth = sample_fans(module, {"x0": x0, "period": period}, samples)
                mean, std = fans.mean(dim=1)[:, 1:], fans.std(dim=1)[:, 1:]
                distance = (truth[:, 1:] - mean).abs()
                inside = [float((distance <= k * std).float().mean()) for k in (1, 2)]
                found[split].append([*inside, float(std.mean())])
        for split, values in found.items():
            one, two, width = np.mean(values, axis=0)
            rows.append(
                {"init": init, "periods": split, "inside_1": one, "inside_2": two, "width": width}
            )
    return rows


# --- tables ------------------------------------------------------------------------------------

PREAMBLE = (
    "Medians over seeds with a distribution-free interval: a pair of order statistics, "
    "its coverage in the header (with 5 seeds no 95% interval exists: [min, max] covers "
    "the median with probability 93.8%; with 10 seeds [2nd, 9th] with 97.9%). `never` = "
    "not reached within the run's epoch cap (counted as the slowest; two `never` tie). "
    "Effect: contextual against the other init, the Hodges-Lehmann estimate (the median "
    "of the pairwise ratios, for accuracies differences) with Moses' interval. p: exact "
    "two-sided Mann-Whitney test (5 against 5: p >= 0.008; 10 against 10: p >= 1.1e-05); "
    "paired p: exact Wilcoxon signed-rank test over the seeds (runs with the same seed share "
    "data and batch order; 5 pairs: p >= 0.0625; 10 pairs: p >= 0.002). Holm: each p "
    "adjusted for the number of tests in its table. "
    "P(ctx better): the probability that a contextual run beats a run of the other init "
    "(0.5 = no difference). cpu_s rows are described, not tested."
)


def number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if not isinstance(value, int | float):
        return str(value)
    if math.isinf(value):
        return "never" if value > 0 else "-never"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def p_value(value: float | None) -> str:
    """Three decimals; below 0.001 two digits with an exponent (10 against 10 seeds reach
    1.1e-05, which three decimals would print as 0.000)."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.3f}" if value >= 1e-3 or value == 0 else f"{value:.1e}"


def effect(test: dict) -> str:
    e = test["effect"]
    sign = "x" if e["kind"] == "ratio" else "+"
    head = f"{sign}{number(e['estimate'])}" if sign == "x" else f"{e['estimate']:+.4g}"
    return f"{head} [{number(e['low'])}, {number(e['high'])}]"


def with_holm(p: float | None, adjusted: float | None, tested: bool) -> str:
    return f"{p_value(p)} ({p_value(adjusted)})" if tested else p_value(p)


def tested(key: str) -> bool:
    return not key.startswith(("cpu_s", "wall_s"))


def adjust(sweep: dict) -> None:
    """Holm within the sweep's table, unpaired and paired p each their own family."""
    tests = [
        test
        for key, comparison in sweep["comparisons"].items()
        if tested(key)
        for test in comparison["tests"].values()
    ]
    for p_key, get in (("p", lambda t: t["p"]), ("paired", lambda t: (t["paired"] or {}).get("p"))):
        for test, adjusted in zip(tests, holm([get(t) for t in tests]), strict=True):
            test[f"holm_{p_key}"] = adjusted


def coverage(sweep: dict) -> str:
    found = {
        round(stats["interval"]["coverage"], 3)
        for comparison in sweep["comparisons"].values()
        for stats in comparison["per_init"].values()
        if not math.isnan(stats["interval"]["coverage"])
    }
    return "/".join(f"{c:.1%}" for c in sorted(found)) or "-"


def sweep_table(name: str, sweep: dict) -> list[str]:
    """Each compared number per init, with the tests of contextual h0 against the others."""
    adjust(sweep)
    caps = ", ".join(map(str, sweep["max_epochs"]))
    unfinished = f"; unfinished: {len(sweep['unfinished'])}" if sweep["unfinished"] else ""
    lines = [
        f"## {name} ({sweep['task'].upper()}, preset {sweep['preset']})",
        "",
        f"{sweep['runs']} runs, epoch cap {caps}{unfinished}.",
        "",
        f"| measure | init | per seed | median [{coverage(sweep)} interval] | reached "
        "| contextual vs this init: effect [interval] | p (Holm) | paired p (Holm) "
        "| P(ctx better) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, comparison in sweep["comparisons"].items():
        for init, stats in comparison["per_init"].items():
            test = comparison["tests"].get(f"contextual vs {init}")
            columns = ["", "", "", ""]
            if test:
                pair = test["paired"] or {}
                columns = [
                    effect(test),
                    with_holm(test["p"], test.get("holm_p"), tested(key)),
                    with_holm(pair.get("p"), test.get("holm_paired"), tested(key)),
                    p_value(test["p_better"]),
                ]
            interval = stats["interval"]
            lines.append(
                f"| {key} | {init} | {' '.join(number(v) for v in stats['values'])} "
                f"| {number(interval['median'])} [{number(interval['low'])}, "
                f"{number(interval['high'])}] | {stats['reached']} | {' | '.join(columns)} |"
            )
    return [*lines, ""]


def contrast_table(name: str, contrast: dict) -> list[str]:
    """One row per sweep: contextual against ``other`` at one measure, Holm over the rows."""
    rows = contrast["rows"]
    for row, adjusted in zip(rows, holm([r["test"]["p"] for r in rows]), strict=True):
        row["holm_p"] = adjusted
    paired = holm([(r["test"]["paired"] or {}).get("p") for r in rows])
    lines = [
        f"## {name}: {contrast['measure']}, contextual against {contrast['other']}",
        "",
        contrast.get("caption", ""),
        "",
        f"| sweep | {contrast['other']}: median | contextual: median | ratio of medians "
        "| effect [interval] | p (Holm) | paired p (Holm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row, adjusted_paired in zip(rows, paired, strict=True):
        test, pair = row["test"], row["test"]["paired"] or {}
        ratio = row["contextual"] / row["other"] if row["other"] else math.nan
        if math.isinf(row["contextual"]) and math.isinf(row["other"]):
            ratio = math.nan
        lines.append(
            f"| {row['sweep']} | {number(row['other'])} | {number(row['contextual'])} "
            f"| {number(ratio)} | {effect(test)} | {p_value(test['p'])} "
            f"({p_value(row['holm_p'])}) | {p_value(pair.get('p'))} "
            f"({p_value(adjusted_paired)}) |"
        )
    return [*lines, ""]


def tables(summary: dict) -> str:
    """The study's tables as markdown: the contrasts, each sweep's table (Holm-adjusted
    within it) and the calibration rows, if any."""
    lines = ["# Study tables", "", PREAMBLE, ""]
    for name, contrast in summary.get("contrasts", {}).items():
        lines += contrast_table(name, contrast)
    for name, sweep in summary["sweeps"].items():
        lines += sweep_table(name, sweep)
    rows = summary.get("calibration")
    if rows:
        columns = list(rows[0])
        lines += ["## Calibration", "", CALIBRATION, ""]
        lines += [f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]
        lines += [f"| {' | '.join(number(row[c]) for c in columns)} |" for row in rows]
        lines.append("")
    return "\n".join(lines)


# --- the aggregate -----------------------------------------------------------------------------


def summarise_sweep(runs: list[dict], groups: Groups) -> dict:
    report = report_for(runs[0]["task_target"])
    for run in runs:
        run["numbers"] = run_numbers(report, run["curve"])
    return {
        "task": runs[0]["task"],
        "preset": runs[0]["preset"],
        "runs": len(runs),
        "unfinished": [r["folder"] for r in runs if r["status"] != "finished"],
        "max_epochs": sorted({r["max_epochs"] for r in runs}),
        "comparisons": {key: compare(groups, key, b) for key, b in compared(report).items()},
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


def finite(value):
    return float(value) if math.isfinite(value) else None


def log_to_wandb(summary: dict, figures: list[Path], out: Path, group: str) -> str | None:
    """The aggregate as one offline W&B run in the study's group: the tables as
    ``wandb.Table`` and the figures, so that ``wandb sync`` of the study gives one page."""
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
            numbers = [k for k in sweep["per_run"][0] if k not in ("init", "seed", "folder")]
            rows = [
                [r["init"], r["seed"], *[finite(r[k]) for k in numbers]] for r in sweep["per_run"]
            ]
            run.log({f"{name}/runs": wandb.Table(columns=["init", "seed", *numbers], data=rows)})
            tests = [
                [key, pair, t["p"], t.get("holm_p"), (t["paired"] or {}).get("p"),
                 t.get("holm_paired"), finite(t["effect"]["estimate"]), t["p_better"]]
                for key, comparison in sweep["comparisons"].items()
                for pair, t in comparison["tests"].items()
            ]  # fmt: skip
            columns = ["measure", "comparison", "p", "p Holm", "paired p", "paired p Holm",
                       "effect", "P(contextual better)"]  # fmt: skip
            run.log({f"{name}/tests": wandb.Table(columns=columns, data=tests)})
            for key, comparison in sweep["comparisons"].items():
                for init, stats in comparison["per_init"].items():
                    median = stats["interval"]["median"]
                    if math.isfinite(median):
                        run.summary[f"{name}/{key}/{init}/median"] = median
        if summary.get("calibration"):
            rows = summary["calibration"]
            table = wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])
            run.log({"calibration": table})
        for path in figures:
            run.log({f"figures/{path.stem}": wandb.Image(str(path))})
        return run.id
    finally:
        run.finish()


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
    drawn = []
    for name, members in sorted(sweeps.items()):
        report, groups = report_for(members[0]["task_target"]), by_init(members)
        summary["sweeps"][name] = summarise_sweep(members, groups)
        drawn += figures(report, name, groups, out, checkpoints=fans)
        rows = calibration(groups) if fans and report.fans else []
        summary["calibration"] += [{"sweep": name, **row} for row in rows]
    study = OmegaConf.to_container(OmegaConf.load(config))
    summary["contrasts"] = contrasts(study, sweeps)
    write_curves(runs, out / "curves")
    (out / "tables.md").write_text(tables(summary))
    write_summary(summary, out)
    summary["figures"] = [p.name for p in drawn]
    group = wandb_group or Path(paths[0]).resolve().name
    summary["wandb_run"] = log_to_wandb(summary, drawn, out, group)
    write_summary(summary, out)
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="aggregate.py", description="Tables, figures and statistics of finished runs."
    )
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or a study folder")
    parser.add_argument("--out", help="output folder (default: <first path>/aggregate)")
    parser.add_argument(
        "--group", help="the W&B group of the aggregate run (default: the folder's name)"
    )
    parser.add_argument(
        "--import", dest="modules", action="append", default=[], metavar="MODULE",
        help="import this module first (one that adds its task's entry to REPORTS)",
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
    names = ", ".join(summary["figures"])
    print(f"{summary['runs']} runs; written to {out}: {names}, tables.md, summary.json")
    return summary
