"""The study's tables as markdown: per sweep, each compared number per init, and any
calibration rows the tasks give."""

import math

PREAMBLE = (
    "Medians over seeds with a bootstrap 95% interval; `never` = not reached within the "
    "run's epoch cap (counted as the slowest). p: exact two-sided Mann-Whitney test of "
    "contextual against the other init; P(contextual better): the probability that a "
    "contextual run beats a run of the other init (faster, lower error, or higher "
    "accuracy; 0.5 = no difference). cpu_s: this process's CPU seconds (less disturbed "
    "than wall time by jobs sharing the cores; wall seconds are in summary.json)."
)


def number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if not isinstance(value, int | float):
        return str(value)
    if math.isinf(value):
        return "never"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def p_value(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def sweep_table(name: str, sweep: dict) -> list[str]:
    caps = ", ".join(map(str, sweep["max_epochs"]))
    unfinished = f"; unfinished: {len(sweep['unfinished'])}" if sweep["unfinished"] else ""
    lines = [
        f"## {name} ({sweep['task'].upper()}, preset {sweep['preset']})",
        "",
        f"{sweep['runs']} runs, epoch cap {caps}{unfinished}.",
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
    return [*lines, ""]


def markdown(summary: dict, captions: list[str]) -> str:
    lines = ["# Study tables", "", PREAMBLE, ""]
    for name, sweep in summary["sweeps"].items():
        lines += sweep_table(name, sweep)
    rows = summary.get("calibration")
    if rows:
        columns = list(rows[0])
        lines += ["## Calibration", "", *captions, ""]
        lines += [f"| {' | '.join(columns)} |", "|" + "---|" * len(columns)]
        lines += [f"| {' | '.join(number(row[c]) for c in columns)} |" for row in rows]
        lines.append("")
    return "\n".join(lines)
