"""The reused fan figure: the same pixels as a figure drawn once, at one draw per save."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from contextual_rnn.analysis.plotting import FanFigure, trajectory_fan


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
    # a fresh figure per fan, laid out like the first one: the reused one fits its
    # layout once, so the fresh ones take the margins of the first fan
    first = None
    for i, (samples, truth, title) in enumerate(fans(3)):
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        trajectory_fan(samples, truth, title, ax=ax)
        if first is None:
            fig.tight_layout()
            first = fig.subplotpars
        else:
            fig.subplots_adjust(
                left=first.left, right=first.right, bottom=first.bottom, top=first.top
            )
        fig.savefig(tmp_path / f"fresh_{i}.png")
        plt.close(fig)
        assert np.array_equal(
            pixels(tmp_path / f"reused_{i}.png"), pixels(tmp_path / f"fresh_{i}.png")
        )


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
