"""Figures: every figure keeps its labels inside the canvas and its panels apart; the reused
fan figure gives the pixels of a fresh one at one draw per save."""

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from contextual_rnn.analysis.report import REPORTS, Report, figures
from contextual_rnn.figures import FanFigure, fan_grid


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def fans(count: int):
    rng = np.random.default_rng(0)
    for i in range(count):
        samples = np.cumsum(rng.standard_normal((10, 26)), axis=1) * (i + 1)
        yield samples, samples.mean(axis=0) + 0.1, f"period {i}.5, epoch {i}"


def test_reused_figure_draws_the_same_pixels_as_a_fresh_one(tmp_path):
    figure = FanFigure()
    for i, (samples, truth, title) in enumerate(fans(3)):
        figure.draw(samples, truth, title)
        figure.save(tmp_path / f"reused_{i}.png")
    figure.close()
    for i, (samples, truth, title) in enumerate(fans(3)):
        fresh = FanFigure()
        fresh.draw(samples, truth, title)
        fresh.save(tmp_path / f"fresh_{i}.png")
        fresh.close()
        assert np.array_equal(
            pixels(tmp_path / f"reused_{i}.png"), pixels(tmp_path / f"fresh_{i}.png")
        )


def layout_problems(fig) -> list[str]:
    """What lies outside the canvas or on another panel: each axes' tight box (its ticks,
    labels, title and legend) and each figure-level text (a suptitle); and a panel's own
    notes that leave it or cover its legend."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [
        (f"axes {i}", ax.get_tightbbox(renderer)) for i, ax in enumerate(fig.axes) if ax.axison
    ]
    boxes += [(repr(t.get_text()), t.get_window_extent(renderer)) for t in fig.texts]
    canvas = fig.bbox.padded(0.5)  # half a pixel: rounding
    problems = [
        f"{name} outside the canvas"
        for name, box in boxes
        if not (canvas.contains(*box.p0) and canvas.contains(*box.p1))
    ]
    for i, (name, box) in enumerate(boxes):
        problems += [f"{name} overlaps {other}" for other, b in boxes[i + 1 :] if box.overlaps(b)]
    for i, ax in enumerate(fig.axes):  # a note drawn in a panel stays in it, off its legend
        legend = ax.get_legend()
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            if not (ax.bbox.contains(*box.p0) and ax.bbox.contains(*box.p1)):
                problems.append(f"{text.get_text()!r} outside axes {i}")
            if legend and box.overlaps(legend.get_window_extent(renderer)):
                problems.append(f"{text.get_text()!r} overlaps the legend of axes {i}")
    return problems


def test_fans_keep_their_labels_inside_whatever_their_scale():
    figure = FanFigure()  # fitted to a small first fan, then larger ones: wider tick labels
    rng = np.random.default_rng(0)
    for scale in (1.0, 1e3, -1e4, 1e7, 1e-6):
        samples = 3 + np.cumsum(rng.standard_normal((10, 26)), axis=1) * scale
        figure.draw(samples, samples.mean(axis=0), "period 4.5 (unseen), x0 3.00")
        assert layout_problems(figure.fig) == [], scale
    figure.close()


def test_a_grid_of_fans_keeps_its_labels_inside_and_apart():
    samples = [s * 1000 for s, _, _ in fans(4)]  # Fig. 6 is two, generate's grid 3 to a row
    truth = [s.mean(axis=0) for s in samples]
    titles = [f"period {i}.5 (unseen), x0 3.00" for i in range(4)]
    for count, title in ((2, "lcd_authors: 10 sampled h0, contextual seed 3"), (4, None)):
        fig = fan_grid(samples[:count], truth[:count], titles[:count], title)
        assert layout_problems(fig) == []
        plt.close(fig)


def study_groups(metrics: dict[str, float]) -> dict[str, list[dict]]:
    """Three inits of five seeds; the third accuracy reached by none (the "never" note)."""
    epochs = np.arange(0.25, 100, 0.25)
    groups = {}
    for init in ("zero", "free", "contextual"):
        curve = [{"epochs": e, **{m: v / (1 + e) for m, v in metrics.items()}} for e in epochs]
        reached = {"epochs to 90.0%": 30.0, "epochs to 99.0%": 40.0, "epochs to 99.9%": math.inf}
        groups[init] = [{"curve": curve, "numbers": reached, "seed": seed} for seed in range(5)]
    return groups


@pytest.fixture
def drawn(monkeypatch):
    """The figures the study saves, each checked for its layout before it is closed."""
    found = {}

    def check(fig, path):
        found[Path(path).name] = layout_problems(fig)
        plt.close(fig)

    monkeypatch.setattr("contextual_rnn.analysis.report.save", check)
    return found


def test_study_figures_keep_their_labels_inside_and_apart(tmp_path, drawn):
    art = REPORTS["ART"]
    figures(art, "art_authors", study_groups({"val/loss": 2.0, "val/acc": 0.9}), tmp_path, False)
    metrics = {"val/loss": 1.0, "val/mse": 1.0, "val/rollout_mse": 3.0}
    lcd = REPORTS["LCD"]
    figures(lcd, "lcd_authors", study_groups(metrics), tmp_path, False)
    mine = Report(metrics=dict.fromkeys(metrics, "min"))
    figures(mine, "mine", study_groups(metrics), tmp_path, False)
    assert drawn == {"fig2_art_authors.png": [], "fig5_lcd_authors.png": [], "curves_mine.png": []}


def test_a_save_draws_the_figure_once(tmp_path, monkeypatch):
    draws = []
    original = Figure.draw
    monkeypatch.setattr(
        Figure, "draw", lambda self, renderer: draws.append(1) or original(self, renderer)
    )
    figure = FanFigure()
    for i, (samples, truth, title) in enumerate(fans(2)):
        figure.draw(samples, truth, title)
        draws.clear()
        figure.save(tmp_path / f"fan_{i}.png")
        assert len(draws) == 1
    figure.close()
