"""Shared fixtures: compose the real config with tiny sizes, train the suite's two runs once,
run train.py as a user would (in this process or as a process)."""

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict, read_write

from contextual_rnn.config import compose_config
from contextual_rnn.train import command, train

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[1]

# Sizes small enough that a full fit takes a second or two.
TINY_ART = ["data.task.train_size=256", "data.task.val_size=128"]
TINY_LCD = ["data.task.train_per_period=20", "data.task.val_per_period=10"]


def tiny_overrides(data: str, *extra: str) -> list[str]:
    sizes = TINY_LCD if data == "lcd" else TINY_ART
    return ["debug=tiny", "logger=csv", f"data={data}", *sizes, *extra]


# The suite's two trained runs (session fixtures below), W&B offline and CSV: every test that
# only reads a run's outputs (W&B and CSV logs, checkpoints, figures, status, loading) reads
# these. LCD: a contextual init with sampled h0, two epochs of five batches, every
# validation batch, fans and W&B checkpoint artifacts at every validation.
LCD_RUN = [
    "debug=tiny",
    "data=lcd",
    *TINY_LCD,
    "model.optimizer.lr=0.01",
    "trainer.limit_val_batches=null",
    "callbacks.trajectory_figures.every_n_epochs=1",
    "logger.wandb.log_model=true",
]
# ART: the task's own cell (fast weights) and init (contextual, deterministic); a
# validation each quarter epoch, the epochs to 0% and to 100% accuracy in W&B's summary.
ART_RUN = ["debug=tiny", "data=art", *TINY_ART, "callbacks.milestones.thresholds=[0.0,1.0]"]


def train_as_hydra_would(overrides: list[str], output_dir: Path) -> Path:
    """``train`` of the composed config in this process, with the environment Hydra's
    ``hydra.job.env_set`` gives a job (where W&B puts its files)."""
    cfg = compose_config(overrides, output_dir=output_dir)
    with read_write(cfg.hydra.runtime), open_dict(cfg.hydra.runtime):
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig.instance().set_config(cfg)  # ${hydra:runtime.output_dir} is the run folder
    with pytest.MonkeyPatch.context() as patch:
        for name, value in cfg.hydra.job.env_set.items():
            patch.setenv(name, str(value))
        train(cfg)
    return output_dir


@pytest.fixture(scope="session")
def lcd_run(tmp_path_factory) -> Path:
    return train_as_hydra_would(LCD_RUN, tmp_path_factory.mktemp("lcd_run"))


@pytest.fixture(scope="session")
def art_run(tmp_path_factory) -> Path:
    return train_as_hydra_would(ART_RUN, tmp_path_factory.mktemp("art_run"))


@pytest.fixture(scope="session")
def lcd_run_fans_every_2(tmp_path_factory) -> Path:
    """The LCD run drawing its fans every second epoch only."""
    every_2 = [*LCD_RUN, "callbacks.trajectory_figures.every_n_epochs=2"]
    return train_as_hydra_would(every_2, tmp_path_factory.mktemp("lcd_run_fans_every_2"))


def train_py_in_process(argv: list[str]) -> None:
    """``python train.py <argv>`` in this process: Hydra's composition, the config check of
    its callback, then the run (a refusal raises SystemExit as the command exits)."""
    saved, handlers, level = sys.argv, logging.root.handlers[:], logging.root.level
    sys.argv = ["train.py"]
    try:
        command(argv)
    finally:  # Hydra set up logging to this test's captured stderr
        sys.argv, logging.root.handlers[:] = saved, handlers
        logging.root.setLevel(level)
        GlobalHydra.instance().clear()


def one_line_error(capsys) -> str:
    """What a refused command printed: one line on stderr, ``error: `` first."""
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("error: "), err
    return err.removeprefix("error: ")


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
