"""docs/extending.md's walkthrough, done from a temporary folder: a new cell and a new
initial state, each one class plus one YAML, trained through train.py on both tasks and
loaded back, with no edit of any file of the project."""

import json
import os
import re
import sys
from pathlib import Path

import pytest

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


def test_the_walkthrough_has_one_class_and_one_yaml_each():
    files = files_of_the_walkthrough()
    assert set(files) == {
        "my_extensions.py",
        "myconf/model/cell/indrnn.yaml",
        "myconf/model/init/first_inputs.yaml",
    }


@pytest.mark.parametrize("data,sizes", [("lcd", TINY_LCD), ("art", TINY_ART)])
def test_a_new_cell_and_init_train_on_both_tasks_and_load_back(extension, data, sizes):
    env = {"PYTHONPATH": f"{extension}{os.pathsep}{ROOT}"}
    out = extension / f"run_{data}"
    result = train_command(
        f"hydra.searchpath=[file://{extension}/myconf]", "model/cell=indrnn",
        "model/init=first_inputs", f"data={data}", "debug=tiny", *sizes,
        f"hydra.run.dir={out}",  # a known folder, to load the model back below
        cwd=extension, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val/loss"] > 0
    config = (out / ".hydra" / "config.yaml").read_text()
    assert "my_extensions.IndRNN" in config and "my_extensions.FirstInputs" in config
    cli = [sys.executable, "-m", "contextual_rnn"]
    refused = run_command([*cli, "evaluate", str(out)], extension, env=env)
    assert refused.returncode == 2 and "is not allowed: expected a registered" in refused.stderr
    loaded = run_command(
        [*cli, "--import", "my_extensions", "evaluate", str(out)], extension, env=env
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "val/loss = " in loaded.stdout


def test_an_unknown_choice_lists_the_extensions_options_too(extension):
    result = train_command(
        f"hydra.searchpath=[file://{extension}/myconf]", "model/cell=indrn", cwd=extension
    )
    assert result.returncode == 2
    options = sorted([p.stem for p in (ROOT / "conf/model/cell").glob("*.yaml")] + ["indrnn"])
    allowed = ", ".join(options)
    assert result.stderr.strip() == f"error: model/cell=indrn is not an option; allowed: {allowed}"
