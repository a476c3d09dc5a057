"""What W&B holds of a run and of a sweep, read from the offline files: checkpoints as
artifacts, one group per sweep, run names from what the sweep varies, the sweep's
aggregate over seeds, and the one command that uploads a sweep."""

import base64
import csv
import glob
import hashlib
import json
import math
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.types import RunMode

from contextual_rnn.config import compose_config, run_name
from contextual_rnn.sweeps import STATISTICS, aggregate, log_to_wandb

from . import wandb_files
from .conftest import ROOT, TINY_LCD, train_command

QUICK = ["debug=tiny", *TINY_LCD, "trainer.max_epochs=1"]


def md5_base64(path: Path) -> str:
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


def model_artifacts(run_file: Path) -> list:
    found = []
    for record in wandb_files.records(run_file):
        if record.WhichOneof("record_type") == "artifact" and record.artifact.type == "model":
            found.append(record.artifact)
    return found


def test_checkpoints_are_off_by_default_and_become_artifacts_with_log_model(lcd_run):
    assert compose_config([]).logger.wandb.log_model is False
    run = lcd_run  # logger.wandb.log_model=true, two epochs
    (run_file,) = wandb_files.run_files(run)
    info = wandb_files.run_info(run_file)  # a single run keeps its group and name
    assert (info["group"], info["name"]) == ("lcd_lstm", "contextual-seed0")
    artifacts = model_artifacts(run_file)
    # log_model=true: the best and the last checkpoint, once training has ended
    best = next((run / "checkpoints").glob("epoch*.ckpt"))
    expected = {md5_base64(best): ["latest", "best"], md5_base64(run / "checkpoints/last.ckpt"): []}
    assert len(artifacts) == 2
    for artifact in artifacts:
        assert artifact.name == f"model-{info['id']}"
        (entry,) = artifact.manifest.contents
        assert entry.path == "model.ckpt"
        # what `wandb sync` uploads: a copy in the run folder, the checkpoint's bytes
        staged = Path(entry.local_path)
        assert staged.is_relative_to(run / "wandb" / "artifacts" / "staging")
        assert md5_base64(staged) == entry.digest
        assert entry.digest in expected
        assert set(expected[entry.digest]) <= set(artifact.aliases)


def test_run_names_say_what_the_sweep_varies():
    overrides = ["debug=tiny", "model.optimizer.lr=0.001", "model/cell=gru", "seed=1"]
    assert run_name(RunMode.MULTIRUN, overrides, ["debug"], "x") == "lr=0.001-cell=gru-seed=1"
    assert run_name(RunMode.MULTIRUN, overrides[:1], ["debug"], "x") == "x"  # nothing varies
    assert run_name(RunMode.RUN, overrides, [], "zero-seed1") == "zero-seed1"
    trial = ["model.optimizer.lr=0.00024156772025296256", "model.context_net.hidden_sizes=[50,50]"]
    assert run_name("MULTIRUN", trial, [], "x") == "lr=0.0002416-hidden_sizes=[50,50]"


def record(job: int, overrides: list[str], metrics: dict, status: str = "completed") -> dict:
    return {"job": job, "overrides": overrides, "status": status, "metrics": metrics}


def test_jobs_that_differ_only_in_seed_are_one_configuration():
    records = [
        record(0, ["lr=1", "seed=0"], {"val/loss": 1.0}),
        record(1, ["lr=1", "seed=1"], {"val/loss": 2.0}),
        record(2, ["lr=1", "seed=2"], {"val/loss": 6.0}),
        record(3, ["lr=2", "seed=0"], {"val/loss": 5.0}),
        record(4, ["lr=2", "seed=1"], {}, status="failed (exit 3)"),
    ]
    (first, one), (second, two) = aggregate(records)
    assert (first, one["n"], second, two["n"]) == (["lr=1"], 3, ["lr=2"], 1)
    assert (one["lr"], two["lr"]) == ("1", "2") and "seed" not in one
    assert {s: one[f"val/loss {s}"] for s in STATISTICS} == pytest.approx(
        {"mean": 3.0, "sd": statistics.stdev([1, 2, 6]), "median": 2.0, "min": 1.0, "max": 6.0}
    )
    assert two["val/loss mean"] == 5.0
    assert math.isnan(two["val/loss sd"])  # one seed: no spread


def sync_command() -> str:
    """The command docs/sweeps.md gives for uploading a whole sweep."""
    text = (ROOT / "docs" / "sweeps.md").read_text()
    (command,) = set(re.findall(r"^wandb sync .*<sweep folder>\S*$", text, re.M))
    return command


def summary_rows(sweep: Path, name: str = "summary") -> list[dict]:
    with (sweep / f"{name}.csv").open(newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.slow  # multirun processes
def test_a_sweep_has_its_own_group_named_runs_an_aggregate_and_one_sync_command(tmp_path):
    result = train_command("-m", *QUICK, "model.optimizer.lr=1e-3,1e-2", "seed=0,1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = tmp_path.glob("outputs/lcd_lstm/multiruns/*")
    jobs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    infos = [wandb_files.run_info(wandb_files.run_files(job)[0]) for job in jobs]
    group = f"lcd_lstm-{sweep.name}"  # a sweep id: a rerun of the command gets its own
    assert {i["group"] for i in infos} == {group}
    names = ["lr=0.001-seed=0", "lr=0.001-seed=1", "lr=0.01-seed=0", "lr=0.01-seed=1"]
    assert [i["name"] for i in infos] == names

    per_job = {r["job"]: r for r in summary_rows(sweep)}
    per_config = {r["model.optimizer.lr"]: r for r in summary_rows(sweep, "summary_by_config")}
    assert len(per_job) == 4 and len(per_config) == 2
    for i, lr in ((0, "0.001"), (2, "0.01")):
        config = per_config[lr]
        losses = [float(per_job[str(j)]["val/loss"]) for j in (i, i + 1)]
        assert config["n"] == "2" and "seed" not in config
        assert float(config["val/loss mean"]) == pytest.approx(statistics.mean(losses), rel=1e-5)
        assert float(config["val/loss sd"]) == pytest.approx(statistics.stdev(losses), rel=1e-4)
        assert float(config["val/loss min"]) == pytest.approx(min(losses), rel=1e-5)
        assert float(config["val/loss (best) max"]) == pytest.approx(max(losses), rel=1e-5)
    markdown = (sweep / "summary.md").read_text()
    assert "| model.optimizer.lr=0.001 | 2 | " in markdown and " ± " in markdown

    # The same aggregate in W&B: an offline run of job type "summary" in the sweep's group.
    (summary_run,) = wandb_files.run_files(sweep / "summary")
    info = wandb_files.run_info(summary_run)
    assert (info["group"], info["job_type"]) == (group, "summary")
    (table_file,) = summary_run.parent.glob("files/media/table/seeds_*.table.json")
    table = json.loads(table_file.read_text())
    lr, column = (table["columns"].index(c) for c in ("model.optimizer.lr", "val/loss mean"))
    means = {row[lr]: row[column] for row in table["data"]}
    assert means == pytest.approx({k: float(r["val/loss mean"]) for k, r in per_config.items()})

    # docs/sweeps.md's command names every job's run and the summary run
    command = sync_command().replace("<sweep folder>", str(sweep))
    paths = [p for word in shlex.split(command)[2:] for p in sorted(glob.glob(word))]
    expected = {f.parent for job in jobs for f in wandb_files.run_files(job)}
    assert {Path(p) for p in paths} == expected | {summary_run.parent}
    dry = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", "--dry-run", *paths],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Would sync 5 run(s)" in dry.stdout + dry.stderr
    assert f"wandb sync {sweep.relative_to(tmp_path)}/*/wandb/offline-run-*" in result.stdout


@pytest.mark.slow  # multirun processes
def test_a_group_the_user_sets_is_kept_by_every_run_of_the_sweep(tmp_path):
    result = train_command(
        "-m", *QUICK, "seed=0,1", "logger.wandb.group=mine", "hydra/launcher=basic", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = tmp_path.glob("outputs/lcd_lstm/multiruns/*")
    files = [*wandb_files.run_files(sweep / "0"), *wandb_files.run_files(sweep / "1")]
    files += wandb_files.run_files(sweep / "summary")
    assert [wandb_files.run_info(f)["group"] for f in files] == ["mine"] * 3
    assert [wandb_files.run_info(f)["name"] for f in files[:2]] == ["seed=0", "seed=1"]


def test_the_summary_run_is_offline_whatever_wandb_mode_says_and_never_fails_the_sweep(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # no server there
    configs = [row for _, row in aggregate([record(0, ["lr=1", "seed=0"], {"val/loss": 1.0})])]
    settings = {"project": "p", "group": "g", "tags": []}
    run = log_to_wandb(tmp_path, configs, settings)
    assert run is not None and run.name.startswith("offline-run-")
    assert wandb_files.run_info(wandb_files.run_file(run))["job_type"] == "summary"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the sweep folder should be")
    with pytest.warns(UserWarning, match="W&B summary run was not written"):
        assert log_to_wandb(blocked, configs, settings) is None
