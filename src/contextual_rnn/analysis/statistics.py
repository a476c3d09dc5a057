"""Small-sample statistics for comparing initial states across seeds.

Times to a threshold are censored: a run that never reaches it within its budget has
time infinity. Medians, bootstrap intervals and rank tests all handle that directly
(infinity sorts last), so a run that never learns counts as the slowest, not as
missing.

- ``median_ci``: the median and a percentile-bootstrap 95% interval (resampling seeds).
- ``mann_whitney``: the two-sided exact Mann-Whitney U test (all rank assignments
  enumerated, ties by mid-ranks), with the effect size as the probability that a run of
  the first group is faster than one of the second, ties counting half.
"""

import itertools
import math

import numpy as np

EXACT_LIMIT = 200_000  # rank assignments enumerated before sampling them instead


def median(values: list[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float))) if values else math.nan


def median_ci(
    values: list[float], level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """(median, low, high): percentile bootstrap over the values."""
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return math.nan, math.nan, math.nan
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, len(data), size=(resamples, len(data)))
    medians = np.median(data[picks], axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(medians, [tail, 1 - tail], method="lower")
    return float(np.median(data)), float(low), float(high)


def ranks(values: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based), ties sharing the mean of their positions; inf sorts last."""
    order = np.argsort(values, kind="stable")
    ranked = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranked[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranked


def mann_whitney(first: list[float], second: list[float]) -> dict:
    """Exact two-sided Mann-Whitney U of ``first`` against ``second``.

    Returns U (of ``first``), the p-value (the share of the C(n+m, n) assignments of the
    pooled ranks whose U is at least as far from the mean) and ``p_faster``: the
    probability that a value of ``first`` is smaller than one of ``second``.
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return {"u": math.nan, "p": math.nan, "p_faster": math.nan, "n": (n, m)}
    pooled = np.concatenate([a, b])
    ranked = ranks(pooled)
    u = ranked[:n].sum() - n * (n + 1) / 2
    center = n * m / 2
    observed = abs(u - center)
    if math.comb(n + m, n) <= EXACT_LIMIT:
        groups = np.array(list(itertools.combinations(range(n + m), n)))
    else:  # too many assignments: a Monte-Carlo sample of them
        generator = np.random.default_rng(0)
        groups = np.argsort(generator.random((EXACT_LIMIT, n + m)), axis=1)[:, :n]
    values = ranked[groups].sum(axis=1) - n * (n + 1) / 2
    extreme, total = int((np.abs(values - center) >= observed - 1e-9).sum()), len(groups)
    less = sum(float(x < y) + 0.5 * float(x == y) for x in a for y in b)
    return {"u": float(u), "p": extreme / total, "p_faster": less / (n * m), "n": (n, m)}
