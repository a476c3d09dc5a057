"""docs/extending.md's walkthrough, done from a temporary folder: a new cell and a new
initial state, each one class plus one YAML, trained through train.py on both tasks and
loaded back; a new regression task, one class plus one YAML, trained, loaded back, rolled
out, swept over seeds and aggregated, with the study's report of it added from a module
of its own; all with no edit of any file of the project."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from contextual_rnn.errors import ConfigError
from contextual_rnn.module import SequenceRegressor, module_for
from contextual_rnn.tasks import SequenceTask

from .conftest import ROOT, TINY_ART, TINY_LCD, run_command, train_command

WALKTHROUGH = ROOT / "docs" / "extending.md"


def files_of_the_walkthrough() -> dict[str, str]:
    """Every code block of docs/extending.md whose first line is ``# file: <path>``."""
    blocks = re.findall(r"```\w*\n# file: (\S+)\n(.*?)```", WALKTHROUGH.read_text(), re.S)
    return {path: body for path, body in blocks}


@pytest.fixture(scope="module")
def extension(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mine")
    for path, body in files_of_the_walkthrough().items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(body)
    return folder


def test_the_walkthrough_has_one_class_and_one_yaml_each_and_an_optional_report():
    files = files_of_the_walkthrough()
    assert set(files) == {
        "my_extensions.py",
        "myconf/model/cell/indrnn.yaml",
        "myconf/model/init/tanh_context.yaml",
        "my_tasks.py",
        "myconf/data/ramp.yaml",
        "my_report.py",
    }


@pytest.mark.slow  # processes from a user's folder
@pytest.mark.parametrize("data,sizes", [("lcd", TINY_LCD), ("art", TINY_ART)])
def test_a_new_cell_and_init_train_on_both_tasks_and_load_back(extension, data, sizes):
    env = {"PYTHONPATH": f"{extension}{os.pathsep}{ROOT}"}
    out = extension / f"run_{data}"
    result = train_command(
        f"hydra.searchpath=[file://{extension}/myconf]", "model/cell=indrnn",
        "model/init=tanh_context", f"data={data}", "debug=tiny", *sizes,
        f"hydra.run.dir={out}",  # a known folder, to load the model back below
        cwd=extension, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val/loss"] > 0
    config = (out / ".hydra" / "config.yaml").read_text()
    assert "my_extensions.IndRNN" in config and "my_extensions.TanhContext" in config
    refused = in_python(extension, f"SequenceModule.load({str(out)!r})")
    assert refused.returncode == 1 and "is not allowed: expected a registered" in refused.stderr
    loaded = in_python(
        extension,
        "import my_extensions",
        f"module = SequenceModule.load({str(out)!r})",
        "print(pl.Trainer(logger=False).validate(module, module.datamodule())[0]['val/loss'])",
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert float(loaded.stdout.split()[-1]) == pytest.approx(metrics["val/loss"], rel=1e-6)


def in_python(extension: Path, *lines: str) -> subprocess.CompletedProcess:
    """The lines run by a fresh Python in the extension's folder (a user's session there)."""
    imports = ["import pytorch_lightning as pl", "import torch"]
    imports.append("from contextual_rnn.module import SequenceModule")
    code = "\n".join([*imports, *lines])
    env = {"PYTHONPATH": f"{extension}{os.pathsep}{ROOT}"}
    return run_command([sys.executable, "-c", code], extension, env=env)


@pytest.mark.slow  # processes from a user's folder
def test_an_unknown_choice_lists_the_extensions_options_too(extension):
    result = train_command(
        f"hydra.searchpath=[file://{extension}/myconf]", "model/cell=indrn", cwd=extension
    )
    assert result.returncode == 2
    options = sorted([p.stem for p in (ROOT / "conf/model/cell").glob("*.yaml")] + ["indrnn"])
    allowed = ", ".join(options)
    assert result.stderr.strip() == f"error: model/cell=indrn is not an option; allowed: {allowed}"


# Small enough for seconds of training; one thread, which a busy machine runs fastest.
RAMP = ["data=ramp", "logger=csv", "threads=1", "model.cell.hidden_size=16"]
RAMP += ["data.task.train_size=512", "data.task.val_size=128", "trainer.max_epochs=4"]


def ramp_command(extension: Path, *args: str):
    return train_command(
        f"hydra.searchpath=[file://{extension}/myconf]", *RAMP, *args, cwd=extension,
        env={"PYTHONPATH": f"{extension}{os.pathsep}{ROOT}"},
    )  # fmt: skip


def validation_rows(run: Path) -> list[dict]:
    with open(run / "csv" / "metrics.csv") as file:
        return [row for row in csv.DictReader(file) if row["val/loss"]]


@pytest.mark.slow  # processes from a user's folder
def test_a_new_regression_task_learns_loads_back_and_rolls_out(extension):
    out = extension / "run_ramp"
    result = ramp_command(extension, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    rollout_mse = [float(row["val/rollout_mse"]) for row in validation_rows(out)]
    assert len(rollout_mse) == 4
    assert rollout_mse[-1] < rollout_mse[0] / 4  # it learned: errors far below the first epoch
    assert "my_tasks.Ramp" in (out / ".hydra" / "config.yaml").read_text()
    loaded = in_python(
        extension,
        "import my_tasks",
        f"module = SequenceModule.load({str(out)!r}, which='last')",
        "metrics = pl.Trainer(logger=False).validate(module, module.datamodule())[0]",
        "slope = {'slope': torch.tensor([-0.5, 0.8])}",
        "paths = module.rollout(slope, sample=False)[:, 0]",
        "print(module.task.truth(slope, 10).sub(paths).abs().max().item())",
        "print(metrics['val/rollout_mse'])",
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    error, validated = map(float, loaded.stdout.split()[-2:])
    assert validated == pytest.approx(rollout_mse[-1], rel=1e-6)
    assert error < 1.0  # ten steps of a ramp that ends at -5 and 8


@pytest.fixture(scope="module")
def ramp_sweep(extension) -> tuple[Path, Path]:
    """A 2-seed sweep of the new task and its aggregate, with the walkthrough's report of
    it: (sweep folder, aggregate folder)."""
    sweep = extension / "sweep_ramp"
    result = ramp_command(extension, "-m", "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    out = extension / "aggregate_ramp"
    aggregate = [sys.executable, str(ROOT / "scripts" / "aggregate.py"), str(sweep)]
    env = {"PYTHONPATH": f"{extension}{os.pathsep}{ROOT}"}
    arguments = [*aggregate, "--import", "my_report", "--out", str(out), "--no-fans"]
    result = run_command(arguments, extension, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep, out


def final_metrics(sweep: Path) -> dict[int, dict]:
    return {seed: json.loads((sweep / str(seed) / "metrics.json").read_text()) for seed in (0, 1)}


@pytest.mark.slow  # processes from a user's folder
def test_a_seed_sweep_of_the_new_task_is_summarised_and_aggregated(ramp_sweep):
    sweep, out = ramp_sweep
    rows = (sweep / "summary.md").read_text().splitlines()
    jobs = [row for row in rows if row.startswith("| 0 |") or row.startswith("| 1 |")]
    assert len(jobs) == 2
    assert all("| completed | seed=" in row for row in jobs)
    tables = (out / "tables.md").read_text()
    assert "2 runs" in tables
    losses = " ".join(f"{final_metrics(sweep)[seed]['val/loss']:.4g}" for seed in (0, 1))
    assert re.search(rf"\| final val/loss \| contextual \| {losses} \|", tables), tables


@pytest.mark.slow  # processes from a user's folder
def test_the_aggregate_tables_hold_the_new_tasks_metrics_only(ramp_sweep):
    sweep, out = ramp_sweep
    tables = (out / "tables.md").read_text()
    assert "val/acc" not in tables and "val_seen" not in tables
    errors = " ".join(f"{final_metrics(sweep)[seed]['val/rollout_mse']:.4g}" for seed in (0, 1))
    assert re.search(rf"\| final val/rollout_mse \| contextual \| {errors} \|", tables), tables


def test_a_task_finds_its_module_by_kind():
    class Regression(SequenceTask, register=False):
        kind = "regression"

    class Odd(SequenceTask, register=False):
        kind = "odd"

    assert module_for(Regression) is SequenceRegressor
    allowed = "a task of a kind a module trains: classification, regression"
    with pytest.raises(ConfigError, match=f"data.task='Odd' is not allowed: expected {allowed}$"):
        module_for(Odd)
