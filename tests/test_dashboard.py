"""What a W&B dashboard sorts and plots, read back from the offline run files."""

import json

import pytest
import yaml

from contextual_rnn.config import compose_config
from contextual_rnn.train import plain_values, train

from . import wandb_files
from .conftest import ART_RUN, TINY_ART
from .fault_injection import Injected


def test_runs_carry_the_best_values_and_the_epochs_to_each_threshold(art_run):
    summary = wandb_files.summary(wandb_files.run_files(art_run)[-1])  # thresholds 0.0, 1.0
    history = wandb_files.run_history(art_run)
    accuracies = [r["val/acc"] for r in history if "val/acc" in r]
    losses = [r["val/loss"] for r in history if "val/loss" in r]
    assert summary["val/acc"] == {"max": max(accuracies)}  # the best, not the last
    assert summary["val/loss"] == {"min": min(losses)}
    assert summary["val/acc/epochs_to_0"] == 0.2  # the first validation, a quarter of 5 batches
    assert "val/acc/seconds_to_0" in summary
    assert "val/acc/epochs_to_1" not in summary  # never reached
    assert summary["status"] == "finished"


def test_the_wandb_config_is_the_resolved_run_config(art_run):
    """Key for key, without Hydra's node (a dashboard filters runs by ``data.task.k``); the
    module's arguments stay in its checkpoints (tests/test_use.py), out of the loggers."""
    cfg = compose_config(ART_RUN, output_dir=art_run)
    logged = wandb_files.run_config(wandb_files.run_files(art_run)[-1])
    assert logged["data"]["task"]["k"] == 8 and not {"task", "fitted", "hydra"} & set(logged)
    assert logged == plain_values(cfg)
    assert yaml.safe_load((art_run / "csv" / "hparams.yaml").read_text()) == plain_values(cfg)


def test_the_epochs_to_each_threshold_survive_a_resume(tmp_path):
    """Validation after steps 2 and 4 of 5, a resume checkpoint at step 3, a crash at 4:
    the resumed attempt's summary keeps the first attempt's milestone (2 / 5 epochs)."""
    overrides = [
        "data=art",
        "debug=tiny",
        *TINY_ART,
        "callbacks.milestones.thresholds=[0.0]",
        "callbacks.validation_schedule.every=0.5",
        "callbacks.resume_checkpoint.every_n_train_steps=1",
    ]
    crash = [
        "+callbacks.fault._target_=tests.fault_injection.Fault",
        "+callbacks.fault.point=train_step",
        "+callbacks.fault.at=4",
        "+callbacks.fault.how=raise",
    ]
    with pytest.raises(Injected):
        train(compose_config([*overrides, *crash], output_dir=tmp_path))
    train(compose_config(overrides, output_dir=tmp_path))
    first, resumed = (wandb_files.summary(f) for f in wandb_files.run_files(tmp_path))
    assert first["val/acc/epochs_to_0"] == resumed["val/acc/epochs_to_0"] == 0.4
    assert resumed["val/acc/seconds_to_0"] == first["val/acc/seconds_to_0"]
    assert resumed["status"] == "finished"


def test_trajectory_fans_are_logged_as_data_too(lcd_run):
    rows = [r for r in wandb_files.run_history(lcd_run) if "val/trajectories/table/_type" in r]
    assert len(rows) == 2  # one table per validation (fans every epoch)
    table_file = (
        wandb_files.run_files(lcd_run)[-1].parent
        / "files"
        / rows[-1]["val/trajectories/table/path"]
    )
    table = json.loads(table_file.read_text())
    assert table["columns"][:6] == ["epoch", "example", "t", "truth", "mean", "std"]
    assert table["columns"][6:] == [f"sample_{s}" for s in range(10)]
    assert len(table["data"]) == 4 * 26  # four periods, 26 steps
    first = table["data"][0]
    assert first[4] == pytest.approx(first[3]) and first[6] == pytest.approx(first[3])  # x(0)
    assert first[5] == pytest.approx(0, abs=1e-6)  # t = 0: every sample starts at x(0)


def test_fans_every_n_epochs_and_the_trained_models_pngs_at_the_end(lcd_run, lcd_run_fans_every_2):
    """every_n_epochs=2 over two epochs: W&B gets epoch 0's fans only (images and table),
    and figures/ holds the trained model's fans, those a run drawing every epoch ends with."""
    logged, pngs = {}, {}
    for every, out in ((1, lcd_run), (2, lcd_run_fans_every_2)):
        history = wandb_files.run_history(out)
        logged[every] = [
            (key, row["trainer/global_step"])
            for row in history
            for key in row
            if key.startswith("val/trajectories/") and key.endswith("/_type")
        ]
        pngs[every] = {p.name: p.read_bytes() for p in sorted((out / "figures").glob("*.png"))}
    assert len(logged[1]) == 2 * 5 and {step for _, step in logged[1]} == {5, 10}
    assert sorted(logged[2]) == sorted(item for item in logged[1] if item[1] == 5)
    assert len(pngs[2]) == 4 and pngs[2] == pngs[1]
