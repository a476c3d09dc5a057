"""Fan figures: the reused figure gives the pixels of a fresh one at one draw per save, and
the drawing process writes the same pixels and hands its write errors back."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from contextual_rnn.analysis.fan_process import FanProcess
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


def test_the_drawing_process_writes_the_same_pixels_and_hands_back_write_errors(tmp_path):
    process = FanProcess()
    jobs = list(fans(2))
    try:
        for i, (samples, truth, title) in enumerate(jobs):
            process.submit(samples, truth, title, str(tmp_path / f"child_{i}.png"))
        process.wait()
        in_the_way = tmp_path / "in_the_way.png"
        in_the_way.mkdir()  # a folder where the PNG goes: the child's write fails
        process.submit(*jobs[0], str(in_the_way))
        process.submit(*jobs[1], str(tmp_path / "after.png"))
        with pytest.raises(IsADirectoryError) as failure:
            process.wait()
        assert failure.value.filename is not None and "in_the_way" in str(failure.value)
        assert process.waiting == 0 and (tmp_path / "after.png").exists()  # it went on
    finally:
        process.close()
    assert process.process is None
    figure = FanFigure()
    for i, (samples, truth, title) in enumerate(jobs):
        figure.draw(samples, truth, title)
        figure.save(tmp_path / f"here_{i}.png")
    figure.close()
    for i in range(2):
        assert np.array_equal(
            pixels(tmp_path / f"child_{i}.png"), pixels(tmp_path / f"here_{i}.png")
        )


def test_a_dead_drawing_process_is_an_error_not_a_hang(tmp_path):
    process = FanProcess()
    process.submit(*next(fans(1)), str(tmp_path / "a.png"))
    process.wait()
    process.process.kill()
    process.process.wait()
    with pytest.raises(RuntimeError, match="figure process ended unexpectedly"):
        process.submit(*next(fans(1)), str(tmp_path / "b.png"))
        process.wait()
    process.close()
