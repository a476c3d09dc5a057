"""The paper's experiment configs, the study's commands and the aggregation of finished runs."""

import csv
import json
from pathlib import Path

import pytest
from contextual_rnn.config import compose_config
from contextual_rnn.train import train
from omegaconf import OmegaConf

from contextual_rnn import aggregate, study

from .conftest import tiny_overrides


def test_art_paper_config_has_the_setup_values():
    cfg = compose_config(["experiment=art_paper"])
    task = cfg.data.task
    assert (task.k, task.train_size, task.val_size) == (8, 100_000, 20_000)
    assert task._target_.endswith(".ART") and task.context == "first_token"
    assert cfg.model.cell._target_.endswith(".FastWeights") and cfg.model.cell.hidden_size == 50
    assert (cfg.model.cell.decay, cfg.model.cell.eta, cfg.model.cell.inner_steps) == (0.95, 0.5, 1)
    assert cfg.model.embedding_dim == 100 and cfg.model.embedding_init == "normal"
    assert list(cfg.model.readout_hidden) == [100]
    assert list(cfg.model.context_net.hidden_sizes) == []  # one linear layer
    assert cfg.model.context_net.distribution == "deterministic"
    assert cfg.model.optimizer._target_ == "torch.optim.Adam" and cfg.model.optimizer.lr == 1e-3
    assert cfg.data.batch_size == 128 and cfg.trainer.max_epochs == 200
    stop = cfg.callbacks.stop_at_perfect_accuracy
    assert (stop.monitor, stop.mode, stop.stopping_threshold) == ("val/acc", "max", 1.0)
    assert stop.patience >= 100_000  # counted in validations: only 100% accuracy stops a run
    zeros = compose_config(["experiment=art_paper", "model.embedding_init=zeros"])
    assert zeros.model.embedding_init == "zeros" and zeros.model.cell.hidden_size == 50


def test_lcd_paper_config_has_the_setup_values():
    cfg = compose_config(["experiment=lcd_paper", "model/init=contextual"])
    task = cfg.data.task
    assert task._target_.endswith(".LCD") and (task.steps, task.decay_steps) == (25, 26)
    assert list(task.train_periods) == [0.5, 1.5, 2.5, 3.5, 4.5] and task.train_per_period == 1000
    assert list(task.val_periods) == [1.0, 2.0, 3.0, 4.0] and task.val_per_period == 500
    assert list(task.x0_range) == [2.0, 4.0]
    assert cfg.model.cell._target_.endswith(".LSTM") and cfg.model.cell.hidden_size == 128
    assert list(cfg.model.readout_hidden) == []  # dense 1 output
    assert cfg.model.init.hidden_sizes == [50] and cfg.model.init.distribution == "normal"
    assert cfg.model.init.sigma_init == 0.25
    assert cfg.model.optimizer.lr == 2e-4 and cfg.data.batch_size == 128
    assert cfg.trainer.max_epochs == 65 and cfg.trainer.gradient_clip_val == 10.0
    assert cfg.trainer.gradient_clip_algorithm == "norm"


def test_study_dry_run_prints_one_multirun_per_sweep(tmp_path, capsys):
    record = study.main(
        [
            "--dry-run",
            "--out",
            str(tmp_path / "s"),
            "--seeds",
            "0,1",
            "--art-epochs",
            "3",
            "--art-zeros-epochs",
            "2",
            "--art-val-every",
            "0.25",
            "--lcd-epochs",
            "65",
            "--lcd-figures-every",
            "5",
        ]
    )
    printed = capsys.readouterr().out
    sweeps = {s["name"]: s for s in record["sweeps"]}
    assert list(sweeps) == ["art_normal", "lcd", "art_zeros"]  # the optional regime last
    for name, sweep in sweeps.items():
        command = sweep["command"]
        assert command[1:3] == ["train.py", "-m"]
        assert "model/init=zero,free,contextual" in command and "seed=0,1" in command
        assert command[-1] == f"hydra.sweep.dir={tmp_path / 's' / name}"
        assert " ".join(command[1:]) in printed
    assert "trainer.max_epochs=3" in sweeps["art_normal"]["command"]
    assert "model.embedding_init=zeros" in sweeps["art_zeros"]["command"]
    assert "name=art_paper_zeros" in sweeps["art_zeros"]["command"]
    assert "name=lcd_paper" in sweeps["lcd"]["command"]
    assert "trainer.max_epochs=2" in sweeps["art_zeros"]["command"]
    assert "++trainer.val_check_interval=0.25" in sweeps["art_normal"]["command"]
    assert "callbacks.trajectory_figures.every_n_epochs=5" in sweeps["lcd"]["command"]
    assert not any("val_check" in arg for arg in sweeps["lcd"]["command"])
    assert sweeps["art_zeros"]["cuts"] == ["max epochs 2 instead of 200", "2 seeds instead of 3"]
    assert sweeps["lcd"]["cuts"] == ["2 seeds instead of 3"]
    assert not (tmp_path / "s").exists()  # a dry run writes nothing


# --- aggregation of tiny runs -----------------------------------------------------------------

SEEDS, INITS = (0, 1), ("zero", "contextual")
QUICK = ["trainer.max_epochs=2", "trainer.limit_val_batches=null", "~callbacks.trajectory_figures"]


def tiny_run(folder: Path, data: str, init: str, seed: int, hydra_files: bool) -> Path:
    experiment = f"experiment={data}_paper"
    cfg = compose_config(
        tiny_overrides(data, experiment, f"model/init={init}", f"seed={seed}", *QUICK),
        output_dir=folder,
    )
    if hydra_files:  # what Hydra writes first; the LCD runs go without, like in-process runs
        (folder / ".hydra").mkdir(parents=True)
        saved = OmegaConf.to_container(cfg, resolve=False)
        saved.pop("hydra")
        OmegaConf.save(saved, folder / ".hydra" / "config.yaml")
    train(cfg)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    made = {}
    for data in ("art", "lcd"):
        for init in INITS:
            for seed in SEEDS:
                folder = root / data / f"{init}_{seed}"
                made[data, init, seed] = tiny_run(folder, data, init, seed, data == "art")
    converged = root / "art" / "converged"  # a hand-written run that reaches 99% then 100%
    (converged / "csv").mkdir(parents=True)
    (converged / ".hydra").mkdir()
    OmegaConf.save(
        {
            "seed": 7,
            "data": {"task": {"_target_": "x.ART"}},
            "model": {"init": {"_target_": "x.FreeInit"}, "embedding_init": "normal"},
        },
        converged / ".hydra" / "config.yaml",
    )
    (converged / "csv" / "metrics.csv").write_text(
        "epoch,step,train/loss,val/acc,val/loss\n0,9,,0.5,1.0\n0,9,1.0,,\n"
        "1,19,,0.995,0.1\n2,29,,1.0,0.01\n"
    )
    return root, made


@pytest.fixture(scope="module")
def aggregated(runs, tmp_path_factory):
    root, _ = runs
    out = tmp_path_factory.mktemp("aggregate")
    return out, aggregate.main([str(root), "--out", str(out), "--samples", "10"])


def last_logged(folder: Path, metric: str) -> float:
    with (folder / "csv" / "metrics.csv").open() as file:
        return [float(r[metric]) for r in csv.DictReader(file) if r[metric]][-1]


def first_logged(folder: Path, metric: str) -> float:
    with (folder / "csv" / "metrics.csv").open() as file:
        return [float(r[metric]) for r in csv.DictReader(file) if r[metric]][0]


def test_aggregate_writes_every_figure_and_table(aggregated):
    out, summary = aggregated
    for name in ("fig2_art_normal.png", "fig5_lcd.png", "fig6_lcd_trajectories.png"):
        assert (out / name).stat().st_size > 10_000, name
    assert summary["runs"] == 9
    tables = (out / "tables.md").read_text()
    for title in ("## ART, embedding init normal", "## LCD"):
        section = tables.split(title, 1)[1].split("###", 1)[0]
        rows = [
            line.split("|")[1].strip()
            for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| init")
        ]
        expected = ["zero", "free", "contextual"] if "ART" in title else ["zero", "contextual"]
        assert rows == expected, (title, rows)
    assert json.loads((out / "summary.json").read_text())["figures"] == summary["figures"]


def test_table_values_match_the_runs_own_logs(aggregated, runs):
    _, summary = aggregated
    _, made = runs
    for group in summary["groups"]:
        if group["init"] == "free":
            continue
        folders = [made[group["task"], group["init"], seed] for seed in SEEDS]
        assert group["seeds"] == list(SEEDS)
        for metric in ("val/loss", "val/acc" if group["task"] == "art" else "val/rollout_mse"):
            logged = [last_logged(f, metric) for f in folders]
            assert group["stats"][f"final {metric}"]["mean"] == pytest.approx(sum(logged) / 2)
        assert group["stats"]["epochs"]["mean"] == 2
        if group["task"] == "art":  # the early curve: accuracy at the first validation
            first = [first_logged(f, "val/acc") for f in folders]
            assert group["stats"]["val/acc at 1 ep"]["mean"] == pytest.approx(sum(first) / 2)
            assert group["stats"]["val/acc at 4 ep"]["n"] == 0  # 2-epoch runs: no value
        assert group["stats"]["wall_s"]["mean"] > 0
        hydra = group["task"] == "art"
        assert group["wall_source"] == ["file mtimes" + ("" if hydra else ", from the first file")]


def test_epochs_to_accuracy_thresholds(aggregated):
    out, summary = aggregated
    by_init = {g["init"]: g for g in summary["groups"] if g["task"] == "art"}
    free = by_init["free"]["per_run"][0]
    assert (free["epochs to 99%"], free["epochs to 100%"], free["best val/acc"]) == (2, 3, 1.0)
    tiny = by_init["zero"]["per_run"][0]
    assert tiny["epochs to 100%"] is None
    assert "| zero | 2 (0, 1) |" in (out / "tables.md").read_text()
    assert "not reached" in (out / "tables.md").read_text()


def test_trajectory_fans_come_from_the_best_contextual_run(aggregated, runs):
    _, summary = aggregated
    _, made = runs
    fans = summary["fig6"]
    candidates = [made["lcd", "contextual", seed] for seed in SEEDS]
    best = min(candidates, key=lambda f: last_logged(f, "val/loss"))
    assert fans["run"] == str(best.resolve()) and fans["periods"] == [1.0, 3.0]
    assert fans["sampled h0"] and fans["distinct trajectories"] == [10, 10]
