"""Trajectory fans drawn and written by a separate, low-priority process.

Drawing and encoding one fan is ~40 ms of single-threaded Python (matplotlib), four per
LCD epoch. In a thread it would fight training for the GIL (measured: epochs 4 to 9x
slower); a child process takes it off the training loop entirely. That pays where the
CPU has cycles to spare (training on an accelerator); on a CPU machine whose cores
training already uses, the child costs training about what it saves (measured on 2
cores, docs/performance.md), which is why the figure callback's default draws in the
training process there.

Jobs go to the child in order over a pipe; it answers each with None, or with the
OSError it met (errno, message, file), which the parent raises again as the same
OSError: a full disk while writing a figure is reported like any other write failure.
The child ignores Ctrl-C (the parent handles it) and ends when its input closes or its
answers have no reader, so an interrupted or killed parent leaves no process behind.
"""

import os
import pickle
import signal
import subprocess
import sys

import numpy as np


class FanProcess:
    """The parent's side: ``submit`` fans, ``wait`` for all of them, ``close``."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.waiting = 0  # fans sent whose answer has not been read

    def start(self) -> None:
        # the child imports this package the way the parent did (an installed package or
        # a source folder on sys.path)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )

    def submit(self, samples: np.ndarray, truth: np.ndarray, title: str, path: str) -> None:
        if self.process is None:
            self.start()
        try:
            pickle.dump((samples, truth, title, path), self.process.stdin)
            self.process.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError("the figure process ended unexpectedly") from None
        self.waiting += 1

    def wait(self) -> None:
        """Read every outstanding answer; raise the first failure once all are in."""
        failure = None
        while self.waiting:
            try:
                answer = pickle.load(self.process.stdout)
            except EOFError:
                self.waiting = 0
                raise RuntimeError("the figure process ended unexpectedly") from None
            self.waiting -= 1
            if answer is not None and failure is None:
                failure = OSError(*answer)
        if failure is not None:
            raise failure

    def close(self) -> None:
        if self.process is None:
            return
        process, self.process, self.waiting = self.process, None, 0
        try:
            process.stdin.close()
            process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        process.stdout.close()


def main() -> None:
    """The child: draw and write each fan it is sent, answer, until its input closes."""
    from contextual_rnn.analysis.plotting import FanFigure

    if hasattr(os, "nice"):
        os.nice(10)  # training first
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    figure = FanFigure()
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            samples, truth, title, path = pickle.load(source)
        except EOFError:
            break
        try:
            figure.draw(samples, truth, title)
            figure.save(path)
            answer = None
        except OSError as error:
            answer = (error.errno, error.strerror, error.filename)
        try:
            pickle.dump(answer, sink)
            sink.flush()
        except BrokenPipeError:  # the parent is gone (killed, interrupted): so are we
            os._exit(0)
    figure.close()


if __name__ == "__main__":
    main()
