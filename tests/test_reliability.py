"""Resume after SIGKILL, determinism, the NaN guard, and W&B failures."""

import csv
from functools import partial
from pathlib import Path

import pytest
import torch

from contextual_rnn.train import train

from .conftest import TINY_LCD, train_command

# 100 training sequences in batches of 16: 7 steps an epoch, 3 epochs; a checkpoint every 2 steps.
SMALL_RUN = [
    "debug=tiny",
    "logger=csv",
    *TINY_LCD,
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=null",
    "trainer.limit_val_batches=null",
    "callbacks.step_checkpoint.every_n_train_steps=2",
    "model.optimizer.lr=0.01",
]


run_train = partial(train_command, one_thread=True, timeout=300)


def metrics_rows(run_dir: Path) -> list[dict]:
    with (run_dir / "csv" / "metrics.csv").open() as file:
        return list(csv.DictReader(file))


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert run_train(*SMALL_RUN, f"hydra.run.dir={whole}").returncode == 0
    kill = [
        "+callbacks.kill._target_=tests.fault_injection.KillAtStep",
        "+callbacks.kill.step=10",
    ]  # epoch 1, batch 3: mid-epoch
    first = run_train(*SMALL_RUN, *kill, f"hydra.run.dir={killed}")
    assert first.returncode == -9  # really killed
    assert (killed / "checkpoints" / "steps").exists()
    resumed = run_train(*SMALL_RUN, f"hydra.run.dir={killed}")  # same command, same folder
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stderr + resumed.stdout
    # Bit-identical: every logged value, including the epoch cut by the kill.
    assert metrics_rows(killed) == metrics_rows(whole)
    final = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for d in (whole, killed)
    ]
    for key in final[0]:
        assert torch.equal(final[0][key], final[1][key]), key


def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    poison = [
        "+callbacks.poison._target_=tests.fault_injection.PoisonAtStep",
        "+callbacks.poison.step=5",
    ]
    result = run_train(*SMALL_RUN, *poison, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 3
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: training loss is nan at step 5 (epoch 0, batch 5)")
    kept = tmp_path / "checkpoints" / "steps" / "step0000004.ckpt"
    assert error.endswith(f"last good checkpoint: {kept}")
    state = torch.load(kept, weights_only=True)
    assert state["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in state["state_dict"].values())


def test_same_seed_same_metrics_and_different_seed_differs(tiny_config, tmp_path):
    def logged(seed: int, name: str) -> list[dict]:
        out = tmp_path / name
        cfg = tiny_config("lcd", f"seed={seed}", "trainer.max_epochs=2")
        cfg.paths.output_dir = str(out)
        train(cfg)
        return metrics_rows(out)

    first, again, other = logged(0, "a"), logged(0, "b"), logged(1, "c")
    assert first == again
    assert [r["val/loss"] for r in first] != [r["val/loss"] for r in other]


def test_unwritable_wandb_folder_warns_and_training_goes_on(tiny_config, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where W&B wants a folder: even root cannot write below it")
    cfg = tiny_config("lcd", "logger=wandb", f"logger.wandb.save_dir={blocker / 'wandb'}")
    with pytest.warns(UserWarning, match="W&B logging turned off: cannot write to its folder"):
        metrics = train(cfg)
    assert "val/loss" in metrics
    rows = metrics_rows(tmp_path)
    assert sum(1 for r in rows if r["val/loss"]) == 2  # both epochs in the CSV log


def test_wandb_failing_mid_run_warns_and_training_goes_on(tiny_config, tmp_path, monkeypatch):
    import wandb

    cfg = tiny_config("lcd", "logger=wandb")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", disk_full)
    with pytest.warns(UserWarning, match="No space left on device"):
        train(cfg)
    assert sum(1 for r in metrics_rows(tmp_path) if r["val/loss"]) == 2
