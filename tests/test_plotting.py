"""Fan figures: the reused figure gives the pixels of a fresh one at one draw per save, and
the drawing worker writes the same pixels, hands its write errors back, ignores Ctrl-C and
ends with the training process."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from contextual_rnn.core.figures import FanFigure, trajectory_fan
from contextual_rnn.training.callbacks.trajectories import drawing_pool, submit_fan, wait_for


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


def test_the_drawing_worker_writes_the_same_pixels_and_hands_back_write_errors(tmp_path):
    pool = drawing_pool()
    jobs = list(fans(2))
    try:
        wait_for(
            [submit_fan(pool, *job, str(tmp_path / f"child_{i}.png")) for i, job in enumerate(jobs)]
        )
        worker = pool.submit(os.getpid).result()
        os.kill(worker, signal.SIGINT)  # Ctrl-C is the training process's: the worker goes on
        in_the_way = tmp_path / "in_the_way.png"
        in_the_way.mkdir()  # a folder where the PNG goes: the worker's write fails
        futures = [
            submit_fan(pool, *jobs[0], str(in_the_way)),
            submit_fan(pool, *jobs[1], str(tmp_path / "after.png")),
        ]
        with pytest.raises(IsADirectoryError) as failure:
            wait_for(futures)
        assert failure.value.filename is not None and "in_the_way" in str(failure.value)
        assert all(f.done() for f in futures) and (tmp_path / "after.png").exists()  # it went on
    finally:
        pool.shutdown()
    figure = FanFigure()
    for i, (samples, truth, title) in enumerate(jobs):
        figure.draw(samples, truth, title)
        figure.save(tmp_path / f"here_{i}.png")
    figure.close()
    for i in range(2):
        assert np.array_equal(
            pixels(tmp_path / f"child_{i}.png"), pixels(tmp_path / f"here_{i}.png")
        )


def test_a_dead_drawing_worker_is_an_error_not_a_hang(tmp_path):
    pool = drawing_pool()
    wait_for([submit_fan(pool, *next(fans(1)), str(tmp_path / "a.png"))])
    os.kill(pool.submit(os.getpid).result(), signal.SIGKILL)
    with pytest.raises(RuntimeError, match="figure process ended unexpectedly"):
        wait_for([submit_fan(pool, *next(fans(1)), str(tmp_path / "b.png"))])
    pool.shutdown()


PARENT = """
import os, sys
from contextual_rnn.training.callbacks.trajectories import drawing_pool
print(drawing_pool().submit(os.getpid).result(), flush=True)
os._exit(0)  # as if killed: no shutdown of the pool
"""


def test_the_drawing_worker_ends_with_the_training_process():
    parent = subprocess.run(
        [sys.executable, "-c", PARENT], capture_output=True, text=True, timeout=120
    )
    worker = int(parent.stdout.split()[-1])
    deadline = time.monotonic() + 20
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{worker}").exists()
