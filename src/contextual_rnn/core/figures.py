"""Figures: trajectory fans (the paper's Fig. 6) and validation curves per init.

``trajectory_fan`` draws one fan on an axes; ``FanFigure`` keeps one figure and redraws
it, which is what a callback drawing a fan per example every epoch wants (creating a
figure costs about as much as drawing one). ``curves`` draws one metric of many runs.
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PNG = {"compress_level": 3}  # zlib level: the same pixels, written faster than the default 6


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


class FanFigure:
    """One figure, redrawn for each fan and saved; its layout is fitted once, at the first
    fan (the later ones have the same labels), and each save draws it once."""

    def __init__(self):
        self.fig, self.ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        self.fitted = False

    def draw(self, samples, truth, title: str) -> None:
        self.ax.clear()
        trajectory_fan(samples, truth, title, ax=self.ax)
        if not self.fitted:
            self.fig.tight_layout()
            # tight_layout leaves a placeholder layout engine, which makes every savefig
            # draw the figure twice (a dry run for the engine, then the real one); the
            # margins it fitted stay.
            self.fig.set_layout_engine(None)
            self.fitted = True

    def save(self, path) -> None:
        write_png(self.fig, path, tight=False)

    def close(self) -> None:
        plt.close(self.fig)


def write_png(fig, path, tight: bool = True) -> None:
    """Save to a new file that then replaces ``path``: a reader never sees half a file,
    and a hard link to the previous version keeps its content."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.png")
    fig.savefig(partial, bbox_inches="tight" if tight else None, pil_kwargs=PNG)
    os.replace(partial, path)


def save(fig, path) -> None:
    write_png(fig, path)
    plt.close(fig)


def curves(ax, groups: dict[str, list[dict]], metric: str, ylabel: str, log: bool = False):
    """Each seed a thin line, the median over seeds at each validation a thick one; ``groups``
    maps an init to its runs, each with a ``curve`` of validation rows (``epochs``, metrics)."""
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


def curve_figure(title: str, groups: dict, panels: list[tuple[str, str, bool]], extra: int = 0):
    """A figure of validation curves, one panel per (metric, ylabel, log scale), and
    ``extra`` empty panels after them; returns the figure and all its axes."""
    count = len(panels) + extra
    fig, axes = plt.subplots(1, count, figsize=(5 * count, 3.8), dpi=100, squeeze=False)
    for ax, (metric, ylabel, log) in zip(axes[0], panels, strict=False):
        curves(ax, groups, metric, ylabel, log)
    fig.suptitle(title)
    return fig, list(axes[0])
