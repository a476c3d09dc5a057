"""Shared fixtures: compose the real config with tiny sizes, run train.py as a user would."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from contextual_rnn.config import compose_config

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]

# Sizes small enough that a full fit takes a second or two.
TINY_ART = ["data.task.train_size=256", "data.task.val_size=128"]
TINY_LCD = ["data.task.train_per_period=20", "data.task.val_per_period=10"]


def tiny_overrides(data: str, *extra: str) -> list[str]:
    sizes = TINY_LCD if data == "lcd" else TINY_ART
    return ["debug=tiny", "logger=csv", f"data={data}", *sizes, *extra]


def default_sigint() -> None:
    """A child's ``preexec_fn``: Ctrl-C as a terminal delivers it. A suite started in the
    background by a shell (``make test &``, ``nohup``) passes on an ignored SIGINT, and
    Python then never turns Ctrl-C into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler during the test, also where the suite started with SIGINT
    ignored (``nohup``, ``&``): Python then installs none and an interrupt raises nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def tiny_config(tmp_path):
    """tiny_config(data, *overrides) -> a composed config writing under tmp_path."""

    def make(data: str = "lcd", *overrides: str):
        return compose_config(tiny_overrides(data, *overrides), output_dir=tmp_path)

    return make


def run_command(args: list[str], cwd: Path, timeout: int = 600, env: dict | None = None):
    """A command run as a user would (W&B offline), with its output captured."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def train_command(*args: str, cwd: Path | None = None, timeout: int = 600, env=None):
    """``python <repo>/train.py <args>``, from ``cwd`` (a fresh temporary folder by default)."""
    if cwd is None:
        import tempfile

        cwd = Path(tempfile.mkdtemp(prefix="cwd-"))
    return run_command([sys.executable, str(ROOT / "train.py"), *args], cwd, timeout, env)
