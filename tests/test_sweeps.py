"""Sweeps and scale-out: the sweep folder, the summary, Optuna, parallel jobs, submitit, DDP.

Every multirun here runs as a user types it, from a fresh working directory, without
``hydra.sweep.dir`` (except the test of resuming a sweep, whose recipe passes it).
"""

import csv
import json
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, read_write

from contextual_rnn.config import compose_config
from contextual_rnn.sweeps import SweepFolder

from . import wandb_files
from .conftest import ROOT, TINY_LCD, default_sigint, train_command

QUICK = ["debug=tiny", *TINY_LCD, "trainer.max_epochs=1"]


def sweep_folder(cwd: Path, name: str | None = None) -> Path:
    """The one sweep folder a multirun made under ``cwd``."""
    folders = list(cwd.glob(f"outputs/{name or '*'}/multiruns/*"))
    assert len(folders) == 1, folders
    return folders[0]


def summary(sweep_dir: Path, name: str = "summary") -> list[dict]:
    """The rows of summary.csv (one per job) or of summary_by_config.csv (one per
    configuration over its seeds)."""
    with (sweep_dir / f"{name}.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()),
        key=lambda p: int(p.name),
    )


def test_a_failing_job_is_reported_and_the_others_still_run(tmp_path):
    # Four jobs: two train; a non-finite loss stops the other two (exit 3 in a single run).
    # (A bad config never gets this far: the sweeper checks every job before the first.)
    result = train_command(
        "-m", *QUICK, "logger=csv", "model.cell.hidden_size=8,4", "model.optimizer.lr=0.01,1e30",
        "hydra/launcher=basic", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    assert "error: 2 of 4 jobs failed: #1, #3" in result.stderr
    assert "Error executing job" not in result.stderr  # Hydra's line: the sweep's own replace it
    sweep = sweep_folder(tmp_path, "lcd_lstm")
    rows = summary(sweep)
    assert [r["job"] for r in rows] == ["0", "1", "2", "3"]
    assert [r["status"] for r in rows] == [
        "completed",
        "failed (exit 3)",
        "completed",
        "failed (exit 3)",
    ]
    assert float(rows[0]["val/loss"]) > 0 and rows[0]["error"] == ""
    assert "training loss is" in rows[1]["error"] and "training loss is" in rows[3]["error"]
    assert rows[1]["val/loss"] == rows[3]["val/loss"] == ""
    assert [r["model.optimizer.lr"] for r in rows] == ["0.01", "1e+30", "0.01", "1e+30"]
    # No seeds swept: each job is a configuration of its own, a failed one with n = 0.
    configurations = summary(sweep, "summary_by_config")
    assert [r["n"] for r in configurations] == ["1", "0", "1", "0"]
    assert float(configurations[0]["val/loss mean"]) == float(rows[0]["val/loss"])
    assert configurations[0]["val/loss sd"] == "nan"
    markdown = (sweep / "summary.md").read_text()
    assert markdown in result.stdout  # printed as well
    # each table: header, separator, then one row per job, and one per configuration
    assert markdown.count("\n| ") == (2 + 4) + (2 + 4)
    # LCD's val/loss is its val/mse: shown once; a configuration of one seed has no sd
    assert "val/mse" in markdown and "val/loss" not in markdown and "± nan" not in markdown
    assert "training loss is" in markdown  # the error of a failed job
    assert (sweep / "0" / "checkpoints" / "last.ckpt").exists()
    assert not (sweep / "summary" / "wandb").exists()  # logger=csv: no W&B summary run


@pytest.mark.slow  # multirun processes
def test_jobs_that_share_a_folder_are_each_in_the_summary(tmp_path):
    result = train_command(
        "-m", *QUICK, "logger=csv", "seed=0,1", "hydra.sweep.subdir=same",
        "hydra/launcher=basic", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    rows = summary(sweep_folder(tmp_path, "lcd_lstm"))
    assert [(r["job"], r["status"]) for r in rows] == [("0", "completed"), ("1", "failed (exit 2)")]


@pytest.mark.slow  # the default suite runs docs' Optuna commands with three trials
def test_optuna_sweep_three_trials(tmp_path):
    result = train_command(
        "hparams_search=lcd_optuna", "-m", *QUICK, "logger=csv", "callbacks=none",
        "hydra.sweeper.n_trials=3", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = sweep_folder(tmp_path, "lcd_lstm")
    assert [p.name for p in job_dirs(sweep)] == ["0", "1", "2"]
    rows = summary(sweep)
    assert [r["status"] for r in rows] == ["completed"] * 3
    searched = yaml.safe_load((ROOT / "conf/hparams_search/lcd_optuna.yaml").read_text())
    params = list(searched["hydra"]["sweeper"]["params"])
    for row in rows:
        assert all(row[key] for key in params)
        assert 1e-4 <= float(row["model.optimizer.lr"]) <= 1e-2  # from the shared base
        assert row["model.cell.hidden_size"] in {"32", "64", "128", "256"}
    assert len({tuple(r[key] for key in params) for r in rows}) == 3  # three different trials
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(min(float(r["val/loss"]) for r in rows))


@pytest.mark.slow  # multirun processes
def test_a_sweep_over_what_names_it_gets_one_folder(tmp_path):
    result = train_command("-m", *QUICK, "logger=csv", "model/cell=lstm,gru", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = sweep_folder(tmp_path, "lcd_lstm+gru")
    assert [p.name for p in job_dirs(sweep)] == ["0", "1"]
    (tmp_path / "experiments").mkdir()
    result = train_command(
        "-m", "experiment=lcd_paper,art_paper", "debug=tiny", "trainer.max_epochs=1",
        "logger=csv", cwd=tmp_path / "experiments",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = sweep_folder(tmp_path / "experiments", "lcd_paper+art_paper")
    assert [r["status"] for r in summary(sweep)] == ["completed", "completed"]


def test_the_sweep_folder_reaches_every_job_as_it_is_named():
    """The parent passes the folder to each job as an override: quotes and backslashes
    in it come back as they were."""
    config = compose_config(["experiment=lcd_paper"])
    folder = "outputs/it's a\\b/multiruns/x"
    OmegaConf.set_readonly(config.hydra, None)  # compose's flag; a multirun's config has none
    with read_write(config):
        config.hydra.sweep.dir = folder
    SweepFolder().on_multirun_start(config)
    override = OverridesParser.create().parse_override(config.hydra.overrides.hydra[-1])
    assert (override.key_or_group, override.value()) == ("hydra.sweep.dir", folder)
    assert config.name == "lcd_paper"


@pytest.mark.slow  # multirun processes
def test_resuming_a_sweep_reruns_only_unfinished_jobs_and_keeps_every_result(tmp_path):
    folder = tmp_path / "sweep"
    first = train_command(
        "-m", *QUICK, "logger=csv", "seed=0,1", f"hydra.sweep.dir={folder}", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr[-3000:]
    before = summary(folder)
    (folder / "1" / "status.json").unlink()  # job 1 as if it had been killed before its end
    (folder / "1" / "metrics.json").unlink()
    job0 = (folder / "0" / "csv" / "metrics.csv").read_text()
    again = train_command(
        "-m", *QUICK, "logger=csv", "seed=0,1", f"hydra.sweep.dir={folder}", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "holds a finished run: nothing to do" in again.stdout + again.stderr
    assert (folder / "0" / "csv" / "metrics.csv").read_text() == job0  # not trained again
    after = summary(folder)
    assert [r["status"] for r in after] == ["completed", "completed"]
    assert [r["val/loss"] for r in after] == [r["val/loss"] for r in before]
    (both_seeds,) = summary(folder, "summary_by_config")
    assert both_seeds["n"] == "2" and "seed" not in both_seeds


def test_search_and_launcher_configs_compose():
    art = compose_config(["experiment=art_paper", "hparams_search=art_optuna"])
    assert art.data.task._target_.endswith("ART") and art.model.cell.hidden_size == 50
    assert art.hydra.sweeper.direction == "minimize" and art.optimized_metric == "val/loss"
    assert "model.embedding_dim" in art.hydra.sweeper.params
    assert "model.optimizer.lr" in art.hydra.sweeper.params  # from the shared optuna base
    slurm = compose_config(
        ["hydra/launcher=slurm", "trainer=ddp_slurm", "hydra.launcher.tasks_per_node=4"]
    )
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher")
    assert slurm.trainer.devices == 4 and slurm.trainer.num_nodes == 1
    local = compose_config(["hydra/launcher=slurm_local"])
    assert local.hydra.launcher._target_.endswith("LocalLauncher")
    assert compose_config(["trainer=ddp"]).trainer.strategy == "ddp_spawn"
    assert compose_config([]).hydra.launcher._target_.endswith("JoblibLauncher")


def logged(run_dir: Path) -> dict[str, float]:
    """The last logged value of every metric in the run's CSV log, and the last step."""
    values = {}
    with (run_dir / "csv" / "metrics.csv").open(newline="") as file:
        for row in csv.DictReader(file):
            values.update({k: float(v) for k, v in row.items() if v != ""})
    return values


@pytest.mark.slow
def test_two_process_ddp_logs_what_one_process_logs(tmp_path):
    """Same data, lr=0 (same weights throughout): every logged metric must agree."""
    same = [
        "debug=tiny",
        "model.optimizer.lr=0.0",
        "model.context_net.distribution=deterministic",  # no sampled h0 while training
        "data.task.train_per_period=32",  # 160 sequences: 10 batches, or 5 on each of 2 ranks
        "data.task.val_periods=[1.0,2.0,3.0]",
        # 24 validation sequences, 12 on each rank (Lightning's DistributedSampler would
        # repeat a sample of an odd count)
        "data.task.val_per_period=8",
        "data.val_batch_size=8",
        "trainer.limit_train_batches=null",
        "trainer.limit_val_batches=null",
        "trainer.max_epochs=2",
        "callbacks.trajectory_figures.every_n_epochs=1",  # fans every epoch (default: 10th)
    ]
    for name, extra in (("single", []), ("ddp", ["trainer=ddp"])):
        # hydra.run.dir: two runs compared side by side need known folders
        result = train_command(*same, *extra, f"hydra.run.dir={tmp_path / name}")
        assert result.returncode == 0, result.stderr[-3000:]
    final = [json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("single", "ddp")]
    one, two = logged(tmp_path / "single"), logged(tmp_path / "ddp")
    for name in ("val/loss", "val/mse", "val/rollout_mse", "train/loss"):
        assert final[1][name] == pytest.approx(final[0][name], rel=1e-5), name
        assert two[name] == pytest.approx(one[name], rel=1e-5), name
    assert two["step"] + 1 == (one["step"] + 1) / 2  # each rank takes half the batches
    # Rank 0 alone writes figures and W&B media, all in the run folder: one W&B run, one
    # image per validation period and epoch.
    files = wandb_files.run_files(tmp_path / "ddp")
    assert len(files) == 1
    media = list(files[0].parent.glob("files/media/images/val/trajectories/*.png"))
    assert len(media) == 3 * 2
    assert len(list((tmp_path / "ddp" / "figures").glob("*.png"))) == 3


@pytest.mark.slow  # the default suite runs the users' command (tests/test_docs.py)
def test_the_default_launcher_runs_seeds_in_parallel_in_their_own_folders(tmp_path):
    result = train_command("-m", "seed=0,1", *QUICK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = sweep_folder(tmp_path, "lcd_lstm")
    infos = []
    for seed, job in enumerate(job_dirs(sweep)):
        files = wandb_files.run_files(job)
        assert len(files) == 1
        infos.append(wandb_files.run_info(files[0]))
        assert wandb_files.run_config(files[0])["seed"] == seed
        assert (job / "checkpoints" / "last.ckpt").exists()
    assert len(infos) == 2 and len({i["id"] for i in infos}) == 2
    assert {i["group"] for i in infos} == {f"lcd_lstm-{sweep.name}"}  # the sweep's own group
    assert [r["status"] for r in summary(sweep)] == ["completed"] * 2
    assert "JoblibLauncher" in (sweep / "multirun.yaml").read_text()


@pytest.mark.slow
def test_submitit_local_runs_the_slurm_path(tmp_path):
    result = train_command(
        "-m", "hydra/launcher=slurm_local", "seed=3", *QUICK, "logger=csv", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = sweep_folder(tmp_path)
    assert [p.name for p in job_dirs(sweep)] == ["0"]
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))  # went through submitit
    rows = summary(sweep)
    assert rows[0]["status"] == "completed" and float(rows[0]["val/loss"]) > 0
    assert (sweep / "0" / "metrics.json").exists()


@pytest.mark.parametrize("launcher", ["parallel", "basic"])
def test_every_job_of_a_grid_is_checked_before_the_first_starts(tmp_path, launcher):
    result = train_command(
        "-m", *QUICK, "logger=csv", "seed=0,1", "model.cell.hidden_size=8,0",
        f"hydra/launcher={launcher}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: job #1 (") and "model.cell.hidden_size=0 is not allowed" in line
    assert not (tmp_path / "outputs").exists()  # no job ran, no folder was made


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_and_the_same_command_continues_it(tmp_path):
    """SIGINT to the whole process group (what Ctrl-C sends): every job stops (those that
    get to report it say so in one line), the parent in one line, exit 130; rerunning the
    command in the sweep's folder continues every job from its checkpoint to the end."""
    import os
    import signal
    import subprocess
    import sys
    import time

    sweep = tmp_path / "sweep"
    args = ["-m", "seed=0,1", "debug=tiny", *TINY_LCD, "logger=csv", f"hydra.sweep.dir={sweep}"]
    command = [sys.executable, str(ROOT / "train.py"), *args]
    started = subprocess.Popen(
        [*command, "trainer.max_epochs=100000"], cwd=tmp_path, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )  # fmt: skip
    resume = sweep / "0" / "checkpoints" / "resume"
    try:
        while not (resume.is_dir() and any(resume.glob("*.ckpt"))):
            assert started.poll() is None, started.communicate()
            time.sleep(0.5)
        os.killpg(started.pid, signal.SIGINT)
        _, stderr = started.communicate(timeout=120)
    finally:  # a sweep that did not stop must not train on after the test
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
    assert started.returncode == 130
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert lines[-1] == "error: interrupted; the same command continues it"
    assert lines[:-1] and all(f"hydra.sweep.dir={sweep}" in line for line in lines[:-1])
    assert "Traceback" not in stderr
    for job in ("0", "1"):
        assert json.loads((sweep / job / "status.json").read_text())["status"] == "interrupted"
    again = train_command(*args, "trainer.max_epochs=100000", "trainer.max_epochs=40", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming from" in again.stderr + again.stdout
    for job in ("0", "1"):
        status = json.loads((sweep / job / "status.json").read_text())
        assert status["status"] == "finished" and status["epoch"] == 40
