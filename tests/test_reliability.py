"""Determinism, the NaN guard, honest run status, W&B failures and the figures' own randomness."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from contextual_rnn.config import compose_config
from contextual_rnn.train import train

from . import wandb_files
from .conftest import (
    LCD_RUN,
    ROOT,
    TINY_LCD,
    default_sigint,
    train_as_hydra_would,
    train_command,
)

# 100 training sequences in batches of 16: 7 steps an epoch, 3 epochs.
SMALL_RUN = [
    "debug=tiny",
    *TINY_LCD,
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=null",
    "trainer.limit_val_batches=null",
    "callbacks.resume_checkpoint.every_n_train_steps=2",
    "model.optimizer.lr=0.01",
    "threads=1",
]
POISON = [
    "+callbacks.poison._target_=tests.fault_injection.PoisonAtStep",
    "+callbacks.poison.step=5",
]


def metrics_rows(run_dir: Path, keep_time: bool = False) -> list[dict]:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    return [{k: v for k, v in r.items() if keep_time or not k.startswith("time/")} for r in rows]


def exit_code(run_dir: Path) -> int | None:
    return wandb_files.exit_code(wandb_files.run_files(run_dir)[-1])


def summary(run_dir: Path) -> dict:
    return wandb_files.summary(wandb_files.run_files(run_dir)[-1])


def test_nan_loss_stops_with_one_line_and_is_recorded_as_failed(tmp_path):
    # hydra.run.dir: a known folder, whose checkpoint the message must name
    result = train_command(*SMALL_RUN, *POISON, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 3
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: training loss is nan at step 5 (epoch 0, batch 5)")
    kept = sorted((tmp_path / "checkpoints" / "resume").glob("*.ckpt"))[-1]
    assert error.endswith(f"last good checkpoint: {kept}")
    state = torch.load(kept, weights_only=True)
    assert state["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in state["state_dict"].values())
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "failed" and "training loss is nan" in status["reason"]
    assert exit_code(tmp_path) == 1  # W&B shows the run as failed
    assert summary(tmp_path)["status"] == "failed"


def test_ctrl_c_is_recorded_as_interrupted_and_names_the_last_checkpoint(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(ROOT)}
    env.pop("WANDB_SERVICE", None)
    # hydra.run.dir: a known folder, watched for the first checkpoint before the Ctrl-C
    args = [*SMALL_RUN, "trainer.max_epochs=500", f"hydra.run.dir={tmp_path}"]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=tmp_path.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )  # fmt: skip
    resume = tmp_path / "checkpoints" / "resume"
    deadline = time.time() + 120
    while not list(resume.glob("*.ckpt")) and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("error: interrupted; last good checkpoint: ")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "interrupted" and "KeyboardInterrupt" in status["reason"]
    assert exit_code(tmp_path) == 1
    assert summary(tmp_path)["status"] == "interrupted"


def test_a_finished_run_is_recorded_as_finished(lcd_run):
    status = json.loads((lcd_run / "status.json").read_text())
    assert status["status"] == "finished" and status["max_epochs"] == 2
    assert not status["stopped_early"] and status["epoch"] == 2
    assert exit_code(lcd_run) == 0 and summary(lcd_run)["status"] == "finished"


def test_same_seed_same_metrics_and_different_seed_differs(lcd_run, tmp_path):
    def logged(*overrides: str) -> list[dict]:
        out = tmp_path / "-".join(overrides or ("again",))
        return metrics_rows(train_as_hydra_would([*LCD_RUN, *overrides], out))

    first = metrics_rows(lcd_run)
    assert logged() == first
    assert [r["val/loss"] for r in logged("seed=1")] != [r["val/loss"] for r in first]


def test_figure_cadence_changes_no_training_number(lcd_run, lcd_run_fans_every_2):
    """The fans draw from their own random stream: drawing them every epoch (the suite's
    LCD run) or every second epoch changes nothing."""
    assert metrics_rows(lcd_run_fans_every_2) == metrics_rows(lcd_run)


def test_unwritable_wandb_folder_is_refused_before_training(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where W&B wants a folder: even root cannot write below it")
    run = tmp_path / "run"
    result = train_command(
        *SMALL_RUN, f"logger.wandb.save_dir={blocker / 'wandb'}", f"hydra.run.dir={run}"
    )
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: could not write {blocker / 'wandb'}: {blocker} is a file, not a folder"
    )
    assert not run.exists()


def test_wandb_failing_mid_run_fails_it_and_the_csv_log_keeps_what_came_before(
    tmp_path, monkeypatch
):
    import wandb

    log = wandb.Run.log
    calls = []

    def full_at_the_second_validation(run, data, *args, **kwargs):
        calls.append(data)
        if sum("val/loss" in d for d in calls) == 2:
            raise OSError(28, "No space left on device")
        return log(run, data, *args, **kwargs)

    monkeypatch.setattr(wandb.Run, "log", full_at_the_second_validation)
    with pytest.raises(OSError, match="No space left on device"):  # 2 epochs, 2 validations
        train(compose_config(["debug=tiny", *TINY_LCD], output_dir=tmp_path))
    assert sum(1 for r in metrics_rows(tmp_path) if r["val/loss"]) == 2
    assert exit_code(tmp_path) == 1
