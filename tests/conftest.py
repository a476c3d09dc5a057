"""Shared fixtures: compose the real config with tiny sizes, writing under tmp_path."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contextual_rnn.config import compose_config

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]

# Sizes small enough that a full fit takes a second or two.
TINY = [
    "debug=tiny",
    "logger=csv",
    "data.task.train_size=256",
    "data.task.val_size=128",
]
TINY_LCD = ["data.task.train_per_period=20", "data.task.val_per_period=10"]


def tiny_overrides(data: str, *extra: str) -> list[str]:
    sizes = TINY_LCD if data == "lcd" else TINY[2:]
    return [*TINY[:2], f"data={data}", *sizes, *extra]


@pytest.fixture
def tiny_config(tmp_path):
    """tiny_config(data, *overrides) -> a composed config writing under tmp_path."""

    def make(data: str = "lcd", *overrides: str):
        return compose_config(tiny_overrides(data, *overrides), output_dir=tmp_path)

    return make


def train_command(*args: str, one_thread: bool = False, timeout: int = 600):
    """``python train.py <args>`` from the repository root, W&B offline, output captured."""
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        **({"OMP_NUM_THREADS": "1"} if one_thread else {}),
    }
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
