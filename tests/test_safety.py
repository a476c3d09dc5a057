"""Safe by default: a resume checkpoint that would run code is refused, and a run prints
only what its user reads (the library messages come back with ``hydra.verbose``).

A checkpoint here "would run code": unpickled without ``weights_only=True`` it creates a
marker file. Resuming must refuse it in one line with exit code 2, before the run writes
anything, whether it is the newest file in ``checkpoints/resume/`` or ``ckpt_path=``
(``train.py`` run in this process). The default run's output is checked in a process
(slow): what it prints depends on how the process starts.
"""

import shutil
from pathlib import Path

import pytest
import torch

from contextual_rnn.config import compose_config
from contextual_rnn.train import train

from .conftest import one_line_error, train_command, train_py_in_process
from .fault_injection import Injected
from .test_resume import RUN, fault


class WritesMarker:
    """Unpickling this calls ``open(marker, "w")``: code run by loading a file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def payload(path: Path, marker: Path) -> Path:
    """A file shaped like a resume checkpoint that runs code when unpickled."""
    torch.save({"global_step": 13, "state_dict": {}, "hook": WritesMarker(marker)}, path)
    return path


def test_the_payload_runs_code_when_unpickled(tmp_path):
    """The premise of the tests below: loading it without weights_only runs its code."""
    marker = tmp_path / "marker"
    torch.load(payload(tmp_path / "evil.ckpt", marker), weights_only=False)
    assert marker.exists()


def run_files(out: Path) -> dict[str, bytes]:
    """The run's files, without those Hydra itself writes as every command starts and the
    folder's lock (which process writes it: contextual_rnn.resume.hold)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log" and p.name != ".lock"
    }


def refused(argv: list[str], capsys, path: Path) -> str:
    """``python train.py <argv>`` ends with exit code 2 and one line naming ``path``."""
    with pytest.raises(SystemExit) as exit_info:
        train_py_in_process(argv)
    assert exit_info.value.code == 2
    line = one_line_error(capsys)
    assert f"={str(path)!r} is not allowed: expected " in line
    return line


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> Path:
    """A killed run: resume checkpoints at steps 2 and 4."""
    out = tmp_path_factory.mktemp("killed") / "run"
    with pytest.raises(Injected):
        train(compose_config([*RUN, *fault("train_step", 5, "raise")], output_dir=out))
    return out


@pytest.mark.parametrize("kind", ["payload", "torn"])
def test_a_newest_resume_checkpoint_that_is_not_plain_is_refused(
    killed_run, tmp_path, capsys, kind
):
    """Refused, not skipped: resuming from an older one would hide the file."""
    out, marker = tmp_path / "run", tmp_path / "marker"
    shutil.copytree(killed_run, out)  # a moved or copied run folder is the same run
    resume = out / "checkpoints" / "resume"
    kept = sorted(resume.glob("*.ckpt"))
    assert kept, "the killed run left a checkpoint to resume from"
    evil = resume / "999999-step13.ckpt"  # numbered as the newest
    if kind == "payload":
        payload(evil, marker)
    else:  # torn under a checkpoint's own name, which no kill leaves (see ResumeCheckpoint.save)
        evil.write_bytes(kept[-1].read_bytes()[:1000])
    before = run_files(out)
    line = refused([*RUN, f"hydra.run.dir={out}"], capsys, evil)  # the resume recipe
    assert "resume checkpoint=" in line and "weights_only=True" in line
    assert not marker.exists()
    assert run_files(out) == before  # nothing written, the older checkpoint kept


def test_a_payload_as_ckpt_path_is_refused(tmp_path, capsys):
    out, marker = tmp_path / "run", tmp_path / "marker"
    evil = payload(tmp_path / "evil.ckpt", marker)
    argv = ["debug=tiny", "logger=csv", f"ckpt_path={evil}", f"hydra.run.dir={out}"]
    line = refused(argv, capsys, evil)
    assert line.startswith(f"ckpt_path={str(evil)!r} is not allowed")
    assert not marker.exists()
    assert not out.exists()  # refused before Hydra makes the run folder


# Lines a default run must not print (each was printed before it was silenced).
NOISE = [
    "warning",  # any warning at all, W&B's "WARNING" included
    "`weights_only` was not set",
    "litlogger",
    "LeafSpec",
    "smaller than the logging interval",
    "anonymous setting",
    "Run history",
    "Run summary",
    "GPU available",
    "Seed set",
]


@pytest.mark.slow
def test_a_default_run_prints_only_what_its_user_reads(monkeypatch):
    monkeypatch.delenv("WANDB_SILENT", raising=False)  # as a user's shell has it
    result = train_command("debug=tiny")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for line in NOISE:
        assert line.lower() not in output.lower(), line
    for part in ("run folder: ", "val/loss = ", "best checkpoint: ", "wandb sync "):
        assert part in output, part


@pytest.mark.slow
def test_hydra_verbose_brings_the_library_messages_back(monkeypatch):
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    result = train_command("debug=tiny", "logger=csv", "hydra.verbose=pytorch_lightning")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "GPU available: " in output and "smaller than the logging interval" in output
