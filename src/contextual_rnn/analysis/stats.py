"""Small-sample statistics for comparing initial states across seeds: the tests are
scipy.stats' (by its permutation method, exact given tied ranks); Hodges-Lehmann with
Moses' interval and Holm's adjustment are here (scipy has neither).

Times to a threshold are censored: a run that never reaches it within its budget has
time infinity. Every statistic here handles that directly: infinity sorts last, two runs
that never reached it tie, so a run that never learns counts as the slowest, not as
missing. Each interval is distribution-free and reported with the coverage it has (with
few seeds no interval has exactly 95%):

- the median's interval is a pair of order statistics (a binomial argument);
- the effect is the Hodges-Lehmann estimate, the median of all pairwise ratios (or, for
  accuracies, differences) of a run of one init against a run of the other, with Moses'
  interval from the Mann-Whitney null distribution;
- runs with the same seed share data and batch order across inits, so next to the
  unpaired Mann-Whitney test there is the exact Wilcoxon signed-rank test of the seeds'
  paired differences (with 5 seeds its smallest two-sided p is 2/32 = 0.0625);
- ``holm`` adjusts a table's p-values for the number of tests in it.
"""

import itertools
import math

import numpy as np
from scipy import stats

PERMUTATIONS = 200_000  # rank assignments enumerated exactly up to this many, sampled above
LEVEL = 0.95  # the coverage every interval aims at (the achieved one is reported)


def permutations() -> stats.PermutationMethod:
    """scipy's permutation method: exact (every assignment) up to ``PERMUTATIONS`` of them."""
    return stats.PermutationMethod(n_resamples=PERMUTATIONS, rng=np.random.default_rng(0))


def order_statistic_rank(tail: np.ndarray, level: float) -> int:
    """The largest rank k (1-based) whose two-sided tail mass 2 P(X <= k - 1) stays within
    1 - level, or 1 when even the extremes fall short (then coverage is below ``level``)."""
    fits = [k for k in range(1, len(tail) + 1) if 2 * tail[k - 1] <= 1 - level + 1e-12]
    return max(fits, default=1)


def median_interval(values: list[float], level: float = LEVEL) -> dict:
    """The median and the order-statistic interval [x_(k), x_(n+1-k)] that covers the true
    median with probability ``coverage`` = 1 - 2 P(Binomial(n, 1/2) <= k - 1)."""
    data = np.sort(np.asarray(values, dtype=float))
    n = len(data)
    if n == 0 or np.isnan(data).any():
        return {"median": math.nan, "low": math.nan, "high": math.nan, "coverage": math.nan}
    tail = stats.binom.cdf(np.arange(n), n, 0.5)  # P(B <= j), j = 0..n-1
    k = order_statistic_rank(tail, level)
    coverage = 1 - 2 * tail[k - 1] if n > 1 else 0.0
    return {
        "median": float(np.median(data)),
        "low": float(data[k - 1]),
        "high": float(data[n - k]),
        "coverage": float(coverage),
    }


def mann_whitney_null(n: int, m: int) -> np.ndarray:
    """P(U <= u) for u = 0..n*m under the null (no ties): the exact distribution of U."""
    counts = np.zeros((n + 1, m + 1, n * m + 1))
    counts[0, :, 0] = counts[:, 0, 0] = 1
    for i, j in itertools.product(range(1, n + 1), range(1, m + 1)):
        counts[i, j, j:] += counts[i - 1, j, : n * m + 1 - j]  # the largest value is in first
        counts[i, j] += counts[i, j - 1]  # ... or in second
    return np.cumsum(counts[n, m]) / counts[n, m].sum()


def log_or_identity(values: np.ndarray, ratio: bool) -> np.ndarray:
    return np.log(values) if ratio else values


def differences(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """first - second elementwise (outer for 2-D), with never - never = 0 (a tie)."""
    with np.errstate(invalid="ignore"):
        d = first - second
    return np.where(np.isnan(d), 0.0, d)


def hodges_lehmann(
    first: list[float], second: list[float], ratio: bool = True, level: float = LEVEL
) -> dict:
    """The effect of ``first`` against ``second``: the median of the pairwise ratios (when
    ``ratio`` and every value is positive) or differences, with Moses' distribution-free
    interval."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if len(a) == 0 or len(b) == 0 or np.isnan(a).any() or np.isnan(b).any():
        return {"kind": "ratio", "estimate": math.nan, "low": math.nan, "high": math.nan,
                "coverage": math.nan}  # fmt: skip
    ratio = ratio and bool((a > 0).all() and (b > 0).all())
    pairs = np.sort(
        differences(log_or_identity(a, ratio)[:, None], log_or_identity(b, ratio)).ravel()
    )
    tail = mann_whitney_null(len(a), len(b))
    k = order_statistic_rank(tail[:-1], level)
    back = np.exp if ratio else (lambda x: x)
    return {
        "kind": "ratio" if ratio else "difference",
        "estimate": float(back(np.median(pairs))),
        "low": float(back(pairs[k - 1])),
        "high": float(back(pairs[len(pairs) - k])),
        "coverage": float(1 - 2 * tail[k - 1]),
    }


def mann_whitney(first: list[float], second: list[float]) -> dict:
    """The two-sided exact Mann-Whitney U test of ``first`` against ``second``.

    Exact given ties: the p-value comes from every assignment of the pooled mid-ranks to the
    two groups (scipy's permutation method; its ``"exact"`` ignores ties, which censored
    runs make common). ``p_faster``: the probability that a value of ``first`` is smaller
    than one of ``second``, ties counting half.
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    n, m = len(a), len(b)
    if n == 0 or m == 0 or np.isnan(a).any() or np.isnan(b).any():
        return {"u": math.nan, "p": math.nan, "p_faster": math.nan, "n": (n, m)}
    method = permutations() if min(n, m) > 1 else "exact"  # one value: no ranks to permute
    test = stats.mannwhitneyu(a, b, alternative="two-sided", method=method)
    u = float(test.statistic)  # pairs where ``first`` is larger, ties half
    return {"u": u, "p": float(test.pvalue), "p_faster": 1 - u / (n * m), "n": (n, m)}


def signed_rank(differences_by_seed: list[float]) -> float:
    """The exact two-sided p of the Wilcoxon signed-rank test: every sign assignment of the
    nonzero differences' mid-ranks (zeros, ties of two censored runs included, drop out;
    scipy's ``"exact"`` ignores tied ranks, its permutation method does not)."""
    d = np.asarray(differences_by_seed, dtype=float)
    d = d[d != 0]
    if np.isnan(d).any():
        return math.nan
    if len(d) < 2:  # none, or one: either sign is as extreme
        return 1.0
    return float(stats.wilcoxon(d, method=permutations()).pvalue)


def paired(first: list[float], first_seeds: list, second: list[float], second_seeds: list):
    """The signed-rank p over the seeds both groups ran (None when they share none)."""
    other = dict(zip(second_seeds, second, strict=True))
    common = [(v, other[s]) for v, s in zip(first, first_seeds, strict=True) if s in other]
    if not common:
        return None
    a, b = (np.array(x, dtype=float) for x in zip(*common, strict=True))
    return {"p": signed_rank(differences(a, b).tolist()), "pairs": len(common)}


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of one family of p-values (NaN stays NaN, not counted)."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[i] = running
    return adjusted


def compare(groups: dict[str, list[dict]], key: str, better: str) -> dict:
    """Per init: the values of the run number ``key``, their median and interval; contextual
    against each other init: the effect, the unpaired and the paired test, and
    ``p_better``, the probability that a contextual run beats one of the other init
    (``better``: "min" or "max")."""
    result = {"per_init": {}, "tests": {}, "better": "higher" if better == "max" else "lower"}
    for init, runs in groups.items():
        values = [r["numbers"][key] for r in runs]
        reached = sum(math.isfinite(v) for v in values)
        result["per_init"][init] = {
            "values": values,
            "seeds": [r["seed"] for r in runs],
            "interval": median_interval(values),
            "reached": f"{reached}/{len(values)}",
        }
    ours = result["per_init"].get("contextual")
    for other, theirs in result["per_init"].items():
        if ours is None or other == "contextual":
            continue
        test = mann_whitney(ours["values"], theirs["values"])
        test["p_better"] = 1 - test["p_faster"] if better == "max" else test["p_faster"]
        as_ratio = "acc" not in key  # times and errors: ratios; accuracies: differences
        test["effect"] = hodges_lehmann(ours["values"], theirs["values"], as_ratio)
        test["paired"] = paired(ours["values"], ours["seeds"], theirs["values"], theirs["seeds"])
        result["tests"][f"contextual vs {other}"] = test
    return result
