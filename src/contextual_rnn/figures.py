"""Figures: trajectory fans (the paper's Fig. 6) and validation curves per init.

``FanFigure`` keeps one figure and redraws it for a callback drawing a fan per example
every epoch (creating a figure costs about as much as drawing one). Figures drawn once
use constrained layout, which keeps every label inside the canvas and apart from the
other panels.
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from contextual_rnn.files import replace_atomically  # noqa: E402

PNG = {"compress_level": 3}  # zlib level: the same pixels, written faster than the default 6
FAN_SIZE = (5, 3.2)  # inches, at 100 dpi
FAN_MARGINS = {"right": 12, "bottom": 46, "top": 42}  # pixels: the x ticks, "t", title
# and the y axis's offset text ("1e4", "+3"), which are the same for every fan


def trajectory_fan(ax, samples, truth, title: str) -> None:
    """Sampled trajectories (N, T+1), their mean and +-1 / +-2 std bands, truth dashed."""
    samples = np.asarray(samples, dtype=float)
    t = np.arange(samples.shape[1])
    mean, std = samples.mean(axis=0), samples.std(axis=0)
    ax.fill_between(t, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.15, label="±2 std")
    ax.fill_between(t, mean - std, mean + std, color="C0", alpha=0.3, label="±1 std")
    ax.plot(t, samples.T, color="C0", lw=0.6, alpha=0.6)
    ax.plot(t, mean, color="C0", lw=2, label=f"mean of {len(samples)}")
    ax.plot(t, np.asarray(truth, dtype=float), "k--", lw=1.5, label="true")
    ax.set(xlabel="t", ylabel="x(t)", title=title)
    ax.legend(fontsize=7, loc="upper right")


class FanFigure:
    """One figure, redrawn for each fan and saved at one draw per save. A layout engine
    would fit the margins at every save (constrained layout: nearly a second draw); here
    they are fixed, but for the left one, which is fitted to each fan's y tick labels
    (whose width follows the data) by measuring the y axis alone."""

    def __init__(self):
        self.fig, self.ax = plt.subplots(figsize=FAN_SIZE, dpi=100)
        width, height = self.fig.bbox.width, self.fig.bbox.height
        self.fig.subplots_adjust(
            right=1 - FAN_MARGINS["right"] / width,
            bottom=FAN_MARGINS["bottom"] / height,
            top=1 - FAN_MARGINS["top"] / height,
        )

    def draw(self, samples, truth, title: str) -> None:
        self.ax.clear()
        trajectory_fan(self.ax, samples, truth, title)
        labels = self.ax.yaxis.get_tightbbox(self.fig.canvas.get_renderer())
        left = self.ax.bbox.x0 - labels.x0 + 4  # pixels: the labels and a small pad
        self.fig.subplots_adjust(left=left / self.fig.bbox.width)

    def save(self, path) -> None:
        save(self.fig, path, close=False)

    def close(self) -> None:
        plt.close(self.fig)


def fan_grid(samples, truth, titles: list[str], title: str | None = None):
    """One panel per fan, three to a row; ``title`` above them all."""
    count = len(samples)
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(5 * cols, 3.4 * rows), dpi=100, squeeze=False, layout="constrained"
    )
    for i, ax in enumerate(axes.flat):
        if i < count:
            trajectory_fan(ax, samples[i], truth[i], titles[i])
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def save(fig, path, close: bool = True) -> None:
    """Save to a new file that then replaces ``path``: a reader never sees half a file,
    and a hard link to the previous version keeps its content."""
    replace_atomically(path, lambda partial: fig.savefig(partial, pil_kwargs=PNG))
    if close:
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
    fig, axes = plt.subplots(
        1, count, figsize=(5 * count, 3.8), dpi=100, squeeze=False, layout="constrained"
    )
    for ax, (metric, ylabel, log) in zip(axes[0], panels, strict=False):
        curves(ax, groups, metric, ylabel, log)
    fig.suptitle(title)
    return fig, list(axes[0])
