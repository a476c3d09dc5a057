"""A wheel install trains from any directory: the package carries its config (conf/).

Slow; by default the config is read through the package (``pkg://contextual_rnn.conf``,
``contextual_rnn.config.CONFIG_DIR``) by every test that composes one."""

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

SOURCES = ["pyproject.toml", "README.md", "src", "conf"]


def wheel_builder() -> str:
    """A folder on sys.path whose setuptools builds wheels by itself (70.1 and later)."""
    for entry in sys.path:
        if (Path(entry) / "setuptools" / "command" / "bdist_wheel.py").is_file():
            return entry
    pytest.skip("no setuptools >= 70.1 to build the wheel with")


def build_wheel(tmp_path: Path) -> Path:
    """The project's wheel, built from a copy of its sources (the checkout stays clean)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    env = {**os.environ, "PYTHONPATH": wheel_builder()}
    subprocess.run([*pip, "-w", str(dist), str(source)], check=True, env=env, timeout=300)
    (wheel,) = dist.glob("contextual_rnn-*.whl")
    return wheel


def fresh_venv(folder: Path) -> Path:
    """A venv that imports this interpreter's installed packages, not the project itself.

    Its .pth lists the site-packages folders on sys.path; the .pth files in those (an
    editable install's) are not read from there, and the venv's own site-packages, where
    the wheel goes, comes first.
    """
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    ask = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", ask], capture_output=True, text=True, check=True)
    reused = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    (Path(purelib.stdout.strip()) / "dependencies.pth").write_text("\n".join(reused) + "\n")
    return python


@pytest.mark.slow  # builds a wheel and a venv, then starts four processes
def test_a_wheel_install_trains_from_any_directory(tmp_path):
    wheel = build_wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert "contextual_rnn/py.typed" in shipped
    assert "hydra_plugins/contextual_rnn/checked_sweeper.py" in shipped  # the sweeper
    configs = {f"contextual_rnn/{p.relative_to(ROOT)}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert "contextual_rnn/conf/train.yaml" in configs and configs <= shipped

    python = fresh_venv(tmp_path / "venv")
    install = [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
    ]
    subprocess.run([*install, str(wheel)], check=True, timeout=300)

    work = tmp_path / "anywhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"WANDB_MODE": "offline"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = run(str(python), "-c", "import contextual_rnn; print(contextual_rnn.__file__)")
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr

    trained = run(str(python), "-m", "contextual_rnn.train", "debug=tiny", "logger=csv")
    assert trained.returncode == 0, trained.stderr[-3000:]
    (metrics,) = work.glob("outputs/lcd_lstm/runs/*/metrics.json")
    assert "val/loss" in metrics.read_text()
    seeds = run(str(python), "-m", "contextual_rnn.train", "-m", "data=art", "debug=tiny",
                "logger=csv", "seed=0,1")  # fmt: skip
    assert seeds.returncode == 0, seeds.stderr[-3000:]
    assert len(list(work.glob("outputs/*/multiruns/*/*/metrics.json"))) == 2

    # the console script, reading the installed config files
    composed = run(
        str(tmp_path / "venv" / "bin" / "contextual-rnn-train"), "data=art", "--cfg", "job"
    )
    assert composed.returncode == 0, composed.stderr
    assert "    lr: 0.001" in composed.stdout.splitlines()

    refused = run(str(python), "-m", "contextual_rnn.train", "model/cell=nope")
    assert refused.returncode == 2
    cells = ", ".join(sorted(p.stem for p in (ROOT / "conf" / "model" / "cell").glob("*.yaml")))
    assert refused.stderr.strip() == f"error: model/cell=nope is not an option; allowed: {cells}"
