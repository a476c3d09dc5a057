"""Figures: trajectory fans (the paper's Fig. 6) and learning curves across seeds."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def trajectory_fan(samples, truth=None, title: str = "", ax=None):
    """Sampled trajectories (N, T+1), their mean and +-1 / +-2 std bands, truth dashed."""
    samples = np.asarray(samples, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    t = np.arange(samples.shape[1])
    mean, std = samples.mean(axis=0), samples.std(axis=0)
    ax.fill_between(t, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.15, label="±2 std")
    ax.fill_between(t, mean - std, mean + std, color="C0", alpha=0.3, label="±1 std")
    ax.plot(t, samples.T, color="C0", lw=0.6, alpha=0.6)
    ax.plot(t, mean, color="C0", lw=2, label=f"mean of {len(samples)}")
    if truth is not None:
        ax.plot(t, np.asarray(truth, dtype=float), "k--", lw=1.5, label="true")
    ax.set(xlabel="t", ylabel="x(t)", title=title)
    ax.legend(fontsize=7, loc="upper right")
    return ax.figure


def curves_across_seeds(ax, epochs, runs_by_label: dict, ylabel: str):
    """One line per label: mean over seeds with a min-max band."""
    for color, (label, runs) in enumerate(sorted(runs_by_label.items())):
        length = min(len(r) for r in runs)
        values = np.array([r[:length] for r in runs], dtype=float)
        x = np.asarray(epochs[:length])
        ax.plot(x, values.mean(axis=0), color=f"C{color}", label=f"{label} (n={len(runs)})")
        ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=f"C{color}", alpha=0.2)
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.legend()


def save(fig, path) -> None:
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
