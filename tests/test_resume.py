"""A run stopped at any point and resumed with the documented recipe equals one that ran through.

"Equals": every CSV row, every W&B history row (one per step, as tests/wandb_files.py
reads them) and the final weights, bit for bit, on CPU; the time/* columns aside (they
are wall and CPU clocks). After a SIGKILL, W&B's rows are compared from the resume
checkpoint on: those W&B had not yet written to disk die with the process. Faults are
injected at named points (tests/fault_injection.py): in-process by raising, and in a
subprocess by SIGKILL (nothing flushed). The full matrix is marked slow; a sample runs
by default.
"""

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from contextual_rnn.callbacks import Timing
from contextual_rnn.config import compose_config
from contextual_rnn.errors import ConfigError
from contextual_rnn.train import train

from . import wandb_files
from .conftest import ROOT, TINY_LCD, train_command
from .fault_injection import Injected
from .wandb_files import run_history

# 100 training sequences in batches of 16: 7 steps an epoch; validation of 40 sequences in 3
# batches after steps 3 and 7 of every epoch (val_check_interval 0.5); 3 epochs; a resume
# checkpoint every 2 steps. Steps 3, 7, 10, 14, ... are followed by validation.
RUN = [
    "debug=tiny",
    *TINY_LCD,
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=null",
    "trainer.limit_val_batches=null",
    "+trainer.val_check_interval=0.5",
    "callbacks.resume_checkpoint.every_n_train_steps=2",
    "model.optimizer.lr=0.01",
    "threads=1",  # in-process and subprocess runs alike: results depend on the thread count
]
# (point, at): each phase of a run. Steps 2, 4, 6 and 8 are checkpointed; 3 is followed by
# a mid-epoch validation, 7 ends epoch 0, 14 ends epoch 1, 21 is the last step.
KILL_POINTS = [
    ("train_step", 5),  # mid-epoch, between checkpoints
    ("train_step", 2),  # right after a step checkpoint
    ("train_step", 3),  # before a mid-epoch validation
    ("train_step", 7),  # the last step of epoch 0, before its validation
    ("train_step", 21),  # the last step of the run
    ("validation", 2),  # inside the first (mid-epoch) validation
    ("validation", 5),  # inside the end-of-epoch validation of epoch 0
    ("train_step", 9),  # right after the checkpoint at the first step of epoch 1
    ("epoch_start", 1),  # as an epoch starts
    ("checkpoint", 3),  # while a checkpoint is being written
    ("checkpoint", 9),
    ("report", 1),  # after training, before the run's metrics are written
]
DEFAULT_SUITE = {("train_step", 7), ("validation", 5), ("report", 1)}


def fault(point: str, at: int, how: str) -> list[str]:
    return [
        "+callbacks.fault._target_=tests.fault_injection.Fault",
        f"+callbacks.fault.point={point}",
        f"+callbacks.fault.at={at}",
        f"+callbacks.fault.how={how}",
    ]


def csv_rows(run: Path) -> list[dict]:
    with (run / "csv" / "metrics.csv").open() as file:
        return [
            {k: v for k, v in row.items() if not k.startswith("time/")}
            for row in csv.DictReader(file)
        ]


def wandb_rows(run: Path) -> list[dict]:
    """History rows, one per step, without W&B's own counters and clocks and ours; media
    by content (W&B names a media file with a counter of its process and gives each
    table a random artifact path)."""
    rows = []
    for row in run_history(run):
        clean = {}
        for key, value in row.items():
            if key.startswith(("_", "time/")) or key.endswith(("artifact_path", "/path")):
                continue
            if key.endswith("/filenames"):
                value = [name.rsplit("_", 1)[-1] for name in value]  # the content hash
            clean[key] = value
        rows.append(clean)
    return rows


def weights(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def same_run(a: Path, b: Path, wandb_from_step: float = 0) -> None:
    """``wandb_from_step``: W&B's rows are compared from that step on."""
    assert csv_rows(b) == csv_rows(a)

    def since(rows: list[dict]) -> list[dict]:
        return [r for r in rows if r["trainer/global_step"] >= wandb_from_step]

    assert since(wandb_rows(b)) == since(wandb_rows(a))
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert json.loads((b / "metrics.json").read_text()) == json.loads(
        (a / "metrics.json").read_text()
    ) or _same_but_time(a, b)


def _same_but_time(a: Path, b: Path) -> bool:
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (a, b))
    drop = lambda m: {k: v for k, v in m.items() if not k.startswith("time/")}  # noqa: E731
    return drop(ma) == drop(mb)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    train(compose_config(RUN, output_dir=out))
    return out


def interrupted_then_resumed(out: Path, point: str, at: int, run: list[str] = RUN) -> None:
    with pytest.raises(Injected):
        train(compose_config([*run, *fault(point, at, "raise")], output_dir=out))
    assert not (out / "metrics.json").exists()
    train(compose_config(run, output_dir=out))  # the documented recipe: same command, same folder


@pytest.mark.parametrize(
    "point,at",
    [pytest.param(*p, marks=() if p in DEFAULT_SUITE else pytest.mark.slow) for p in KILL_POINTS],
)
def test_resumed_run_equals_an_uninterrupted_one(reference, tmp_path, point, at):
    interrupted_then_resumed(tmp_path, point, at)
    same_run(reference, tmp_path)
    with (tmp_path / "csv" / "metrics.csv").open() as file:
        timed = [row for row in csv.DictReader(file) if row["time/wall_s"]]
    for clock in ("time/wall_s", "time/cpu_s"):  # the clocks continue across the resume
        values = [float(row[clock]) for row in timed]
        assert values == sorted(values) and len(values) == 6, clock


def test_a_torn_checkpoint_is_never_picked(reference, tmp_path):
    # A torn file numbered as the newest under the temporary name, as a kill while a
    # checkpoint is written leaves it (a torn file under a checkpoint's own name is refused:
    # tests/test_safety.py).
    out = tmp_path / "torn"
    with pytest.raises(Injected):
        train(compose_config([*RUN, *fault("train_step", 12, "raise")], output_dir=out))
    resume = sorted((out / "checkpoints" / "resume").glob("*.ckpt"))[-1]
    torn = resume.with_name(".999999-step13.ckpt.partial")
    torn.write_bytes(resume.read_bytes()[: resume.stat().st_size // 2])
    train(compose_config(RUN, output_dir=out))
    same_run(reference, out)


def test_a_csv_log_set_aside_by_a_killed_attempt_is_taken_back(reference, tmp_path):
    """Killed while its CSV log is set aside for Lightning's writer to start (which would
    delete it): the next attempt takes it back."""
    with pytest.raises(Injected):
        train(compose_config([*RUN, *fault("train_step", 12, "raise")], output_dir=tmp_path))
    log = tmp_path / "csv" / "metrics.csv"
    log.replace(log.with_name(".metrics.csv.kept"))
    train(compose_config(RUN, output_dir=tmp_path))
    same_run(reference, tmp_path)
    assert not log.with_name(".metrics.csv.kept").exists()


def test_a_run_killed_before_its_first_resume_checkpoint_starts_afresh(reference, tmp_path):
    """Killed before its first resume checkpoint: its CSV holds rows, no checkpoint
    covers them; the same command starts the run afresh."""
    run = [*RUN, "callbacks.resume_checkpoint.every_n_train_steps=9"]
    with pytest.raises(Injected):
        train(compose_config([*run, *fault("train_step", 8, "raise")], output_dir=tmp_path))
    assert csv_rows(tmp_path) and not list((tmp_path / "checkpoints" / "resume").glob("*.ckpt"))
    train(compose_config(run, output_dir=tmp_path))
    same_run(reference, tmp_path)


@pytest.mark.slow
def test_sigkill_before_the_first_resume_checkpoint_then_the_same_command(reference, tmp_path):
    """The kill matrix's early case: SIGKILLed before any resume checkpoint (nothing flushed),
    the same command in the same folder starts the run afresh and equals an uninterrupted one."""
    run = [*RUN, "callbacks.resume_checkpoint.every_n_train_steps=9"]
    out = f"hydra.run.dir={tmp_path}"
    killed = train_command(*run, *fault("train_step", 8, "kill"), out)
    assert killed.returncode == -9  # really killed
    assert not list((tmp_path / "checkpoints" / "resume").glob("*.ckpt"))
    again = train_command(*run, out)
    assert again.returncode == 0, again.stderr[-2000:]
    same_run(reference, tmp_path)


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("killed") / "run"
    with pytest.raises(Injected):
        train(compose_config([*RUN, *fault("train_step", 5, "raise")], output_dir=out))
    return out


@pytest.mark.parametrize(
    "change,refused",
    [
        ("model.optimizer.lr=0.02", "model.optimizer.lr 0.01 -> 0.02"),
        (
            "model/cell=gru",
            "model.cell._target_ 'contextual_rnn.model.cells.LSTM' -> "
            "'contextual_rnn.model.cells.GRU'",
        ),
        ("data.task.val_per_period=11", "data.task.val_per_period 10 -> 11"),
        ("seed=1", "data.train_seed 0 -> 1, seed 0 -> 1;"),
    ],
)
def test_a_changed_config_is_refused_in_its_run_folder(killed_run, tmp_path, change, refused):
    out = tmp_path / "run"
    shutil.copytree(killed_run, out)  # a copied run folder is the same run
    with pytest.raises(ConfigError) as error:
        train(compose_config([*RUN, change], output_dir=out))
    assert str(error.value).startswith(
        f"run folder={str(out)!r} is not allowed: expected a new folder, or its run's config "
        f"(changed: {refused}"
    )
    assert "only trainer.max_epochs, threads," in str(error.value)


def test_resuming_a_finished_run_changes_nothing(reference, tmp_path, caplog):
    out = tmp_path / "run"
    shutil.copytree(reference, out)  # a finished run (copied: the same run)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and "wandb" not in p.parts}
    with caplog.at_level("INFO"):
        metrics = train(compose_config(RUN, output_dir=out))
    assert "holds a finished run: nothing to do" in caplog.text
    assert metrics == json.loads((out / "metrics.json").read_text()) and "val/loss" in metrics
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and "wandb" not in p.parts}
    assert after == before


def test_more_epochs_continue_a_finished_run(tmp_path):
    """A finished run asked for more epochs continues; it equals a run trained that long."""
    run = RUN
    longer = [o.replace("max_epochs=3", "max_epochs=4") for o in run]
    whole, extended = tmp_path / "whole", tmp_path / "extended"
    train(compose_config(longer, output_dir=whole))
    train(compose_config(run, output_dir=extended))
    train(compose_config(longer, output_dir=extended))
    same_run(whole, extended)
    recorded = json.loads((extended / "resume_config.json").read_text())
    assert recorded["changes"] == [{"trainer.max_epochs": [3, 4]}]
    assert recorded["config"]["trainer.max_epochs"] == 4


@pytest.mark.slow
@pytest.mark.parametrize(
    "point,at",
    [("train_step", 5), ("train_step", 7), ("validation", 5), ("checkpoint", 3), ("report", 1)],
)
def test_sigkill_then_resume_from_the_command_line(reference, tmp_path, point, at):
    out = f"hydra.run.dir={tmp_path}"  # the documented recipe: the same folder both times
    killed = train_command(*RUN, *fault(point, at, "kill"), out)
    assert killed.returncode == -9  # really killed
    resumed = train_command(*RUN, out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    checkpoint = re.search(
        r"resuming from \S+-(step(\d+)|end)\.ckpt", resumed.stderr + resumed.stdout
    )
    assert checkpoint
    # One W&B run in two attempts. What W&B had not written when killed is lost (README);
    # from its checkpoint on, the resumed attempt logs every row (after the end: none).
    files = wandb_files.run_files(tmp_path)
    assert len(files) == 2 and len({f.name for f in files}) == 1  # run-<id>.wandb
    same_run(reference, tmp_path, int(checkpoint[2]) if checkpoint[2] else math.inf)


@pytest.mark.slow
def test_two_processes_cannot_both_write_a_run_folder(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    args = [*RUN, "trainer.max_epochs=500", f"hydra.run.dir={tmp_path}"]
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args], cwd=tmp_path.parent, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "checkpoints" / "resume").glob("*.ckpt")):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.2)
        second = train_command(*args)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: {tmp_path} is in use by another process (pid {first.pid})"
        )
        assert first.poll() is None  # the first trains on
    finally:
        first.kill()
        first.wait()


def test_the_clocks_continue_from_a_checkpoint():
    timing = Timing()
    timing.load_state_dict({"time_elapsed": {"train": 5.0}, "cpu_s": 3.0})
    assert timing.time_elapsed("train") == 5.0 and timing.cpu_seconds() >= 3.0
    again = Timing()
    again.load_state_dict(timing.state_dict())
    assert again.time_elapsed("train") == 5.0 and again.cpu_seconds() >= 3.0
