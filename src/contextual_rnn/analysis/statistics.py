"""Small-sample statistics for comparing initial states across seeds (scipy.stats).

Times to a threshold are censored: a run that never reaches it within its budget has
time infinity. Medians, bootstrap intervals and rank tests all handle that directly
(infinity sorts last, and runs that never reached it tie), so a run that never learns
counts as the slowest, not as missing.
"""

import math

import numpy as np
from scipy import stats

PERMUTATIONS = 200_000  # rank assignments enumerated exactly up to this many, sampled above


def median_ci(values: list[float], level: float = 0.95, seed: int = 0) -> tuple[float, ...]:
    """(median, low, high): a percentile bootstrap over the values (resampling seeds)."""
    data = np.asarray(values, dtype=float)
    if len(data) < 2 or np.isnan(data).any():  # nothing to resample, or a value missing
        median = float(np.median(data)) if len(data) else math.nan
        return median, median, median
    with np.errstate(invalid="ignore"):  # inf - inf in the spread of an all-never resample
        result = stats.bootstrap(
            (data,), np.median, n_resamples=10_000, confidence_level=level,
            method="percentile", rng=np.random.default_rng(seed),
        )  # fmt: skip
    low, high = result.confidence_interval
    return float(np.median(data)), float(low), float(high)


def mann_whitney(first: list[float], second: list[float]) -> dict:
    """The two-sided exact Mann-Whitney U test of ``first`` against ``second``.

    Exact given ties: the p-value comes from every assignment of the pooled mid-ranks to the
    two groups (scipy's permutation method; its ``"exact"`` ignores ties, which censored
    runs make common). ``p_faster``: the probability that a value of ``first`` is smaller
    than one of ``second``, ties counting half.
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return {"u": math.nan, "p": math.nan, "p_faster": math.nan, "n": (n, m)}
    method = (
        stats.PermutationMethod(n_resamples=PERMUTATIONS, rng=np.random.default_rng(0))
        if min(n, m) > 1
        else "exact"  # one value: no ranks to permute within a group
    )
    test = stats.mannwhitneyu(a, b, alternative="two-sided", method=method)
    u = float(test.statistic)  # pairs where ``first`` is larger, ties half
    return {"u": u, "p": float(test.pvalue), "p_faster": 1 - u / (n * m), "n": (n, m)}


def compare(groups: dict[str, list[dict]], key: str, better: str) -> dict:
    """Per init: the values of the run number ``key``, their median and CI; contextual against
    each other init, where ``p_better`` is the probability that a contextual run beats one
    of the other init (``better``: "min" or "max")."""
    result = {"per_init": {}, "tests": {}, "better": "higher" if better == "max" else "lower"}
    for init, runs in groups.items():
        values = [r["numbers"][key] for r in runs]
        median, low, high = median_ci(values)
        reached = sum(math.isfinite(v) for v in values)
        result["per_init"][init] = {
            "values": values,
            "seeds": [r["seed"] for r in runs],
            "median": median,
            "ci95": [low, high],
            "reached": f"{reached}/{len(values)}",
        }
    if "contextual" in groups:
        ours = [r["numbers"][key] for r in groups["contextual"]]
        for other in groups:
            if other != "contextual":
                test = mann_whitney(ours, [r["numbers"][key] for r in groups[other]])
                test["p_better"] = 1 - test["p_faster"] if better == "max" else test["p_faster"]
                result["tests"][f"contextual vs {other}"] = test
    return result
