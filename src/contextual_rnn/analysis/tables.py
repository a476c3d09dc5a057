"""The study's tables as markdown: per sweep, each compared number per init with the
tests of contextual h0 against the other inits (Holm-adjusted within the table); the
contrasts across sweeps (conf/study.yaml); any calibration rows the tasks give."""

import math

from contextual_rnn.analysis.statistics import holm

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
                    f"{p_value(test['p'])} ({p_value(test.get('holm_p'))})"
                    if tested(key)
                    else p_value(test["p"]),
                    f"{p_value(pair.get('p'))} ({p_value(test.get('holm_paired'))})"
                    if tested(key)
                    else p_value(pair.get("p")),
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


def markdown(summary: dict, captions: list[str]) -> str:
    lines = ["# Study tables", "", PREAMBLE, ""]
    for name, contrast in summary.get("contrasts", {}).items():
        lines += contrast_table(name, contrast)
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
