"""The documentation, executed: every command and Python block in README.md and docs/*.md.

By default, in this process: every ``python train.py ...`` line of a shell block composes
(each value of a swept list once), ``scripts/study.py`` plans its sweeps (``--dry-run``)
and their jobs compose, and README's Python blocks run against the suite's trained runs;
one multirun, README's first command, runs as a process with fewer jobs.

The slow suite runs every ``python train.py ...`` and ``python scripts/...`` line exactly
as written, from a fresh working directory (one per page, commands in their order), with
only size-shrinking options appended: ``debug=tiny`` for train.py, ``--quick`` for the
benchmark, the study's documented budget options, three trials for an Optuna search. A
placeholder such as ``<time>`` stands for the folder an earlier command of the same page
made. Every Python block runs as a script; one that reads ``outputs/<name>/`` runs after
the page's ``python train.py experiment=<name>`` (with ``debug=tiny``). A command or
block added to a page is picked up without editing this file; the few that cannot run
here are listed in ``NOT_RUN`` with the reason. What each command promises is then
checked: exit 0, the run folder's artefacts, one W&B run and one summary row per job,
figures.
"""

import csv
import json
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from contextual_rnn.analysis import study
from contextual_rnn.config import compose_config

from . import wandb_files
from .conftest import ROOT, run_command

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(python train\.py|python scripts/\S+\.py)(\s|$)")
NOT_RUN = {
    # a real SLURM cluster (sbatch) is not on this machine; hydra/launcher=slurm_local runs
    # the same submitit path locally and is run
    "hydra/launcher=slurm ": "needs a SLURM cluster",
    "trainer=ddp_slurm": "needs a SLURM cluster with GPUs",
    # the extension walkthrough's commands need its files: tests/test_extending.py runs them
    "hydra.searchpath=[file://$PWD/myconf]": "run by tests/test_extending.py",
    "outputs/ramp_seeds": "run by tests/test_extending.py",
    # the committed study's curves are the repository's, not a fresh folder's
    "docs/results/curves": "run by tests/test_study.py",
}
SHRINK = {
    "train.py": ["debug=tiny"],
    "scripts/bench.py": ["--quick", "--skip-jobs"],
    "scripts/study.py": ["--seeds", "0", "--art-epochs", "2", "--lcd-epochs", "2",
                         "--sweeps", "art_ba2016,lcd_authors", "--override", "debug=tiny"],
}  # fmt: skip
# The one documented command the default suite runs as a process (a multirun, with fewer jobs):
# README's first command, `python train.py model/init=contextual data=lcd -m seed=0,1,2`.
DEFAULT_MULTIRUN = ("README.md", 0)


def blocks(page: Path, languages: tuple[str, ...]) -> list[str]:
    return re.findall(rf"```(?:{'|'.join(languages)})\n(.*?)```", page.read_text(), re.S)


def commands(page: Path) -> list[str]:
    """The commands of a page's shell blocks, continuation lines joined, prompts and
    comments dropped."""
    found = []
    for block in blocks(page, ("bash", "console", "sh")):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = line.strip().removeprefix("$ ")
            line = re.split(r"\s+#", line)[0].strip()
            if COMMAND.match(line):
                found.append(line)
    return found


def skipped(command: str) -> str | None:
    return next((why for part, why in NOT_RUN.items() if part in command + " "), None)


def documented() -> list[tuple[str, int, str]]:
    cases, seen = [], set()
    for page in PAGES:
        for i, command in enumerate(commands(page)):
            if command in seen:
                continue
            seen.add(command)
            cases.append((page.name, i, command))
    return cases


def substitute(command: str, cwd: Path) -> str:
    """``.../<time>`` -> the newest folder an earlier command made that fits the pattern."""

    def newest(match: re.Match) -> str:
        pattern = re.sub(r"<[^>]+>", "*", match.group(0))
        found = sorted(cwd.glob(pattern), key=lambda p: p.stat().st_mtime)
        assert found, f"no folder for {match.group(0)} (an earlier documented command makes it)"
        return str(found[-1].relative_to(cwd))

    return re.sub(r"\S*<[^>]+>\S*", newest, command)


def shrunk(command: str) -> list[str]:
    args = shlex.split(command)
    script = args[1]
    extra = next((v for k, v in SHRINK.items() if script.endswith(k)), [])
    if "hparams_search=" in command:  # a search of three trials instead of twenty
        extra = [*extra, "hydra.sweeper.n_trials=3"]
    return [sys.executable, str(ROOT / script), *args[2:], *extra]


def newest(cwd: Path, pattern: str) -> Path:
    found = sorted(cwd.glob(pattern), key=lambda p: p.stat().st_mtime)
    assert found, pattern
    return found[-1]


def check_run(run: Path) -> None:
    """A finished run folder: checkpoints, CSV, metrics, W&B offline run, figures (LCD)."""
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val/loss"] > 0
    files = wandb_files.run_files(run)
    if files:  # the W&B logger (the default): a curve and, for LCD, trajectory images
        rows = wandb_files.run_history(run)
        assert sum("val/loss" in r for r in rows) >= 2
        if "val/rollout_mse" in metrics:
            assert any(k.startswith("val/trajectories/period_") for r in rows for k in r)
            assert len(list((run / "figures").glob("*.png"))) == 4


def check_sweep(sweep: Path) -> None:
    jobs = [p for p in sweep.iterdir() if (p / ".hydra").is_dir()]  # a study's: seed<N>-<init>
    with (sweep / "summary.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(jobs) > 0  # one row per job
    assert all(r["status"] == "completed" for r in rows), rows
    for job in jobs:
        check_run(job)
    ids = {wandb_files.run_info(f)["id"] for job in jobs for f in wandb_files.run_files(job)}
    assert len(ids) in (0, len(jobs))  # one W&B run per job (none with logger=csv)


def check(command: str, result, cwd: Path) -> None:
    assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    if command.startswith("python train.py"):
        if " --cfg " in f" {command} " or "--info" in command:
            assert "model" in result.stdout
        elif is_multirun(command):
            check_sweep(newest(cwd, "outputs/*/multiruns/*"))
        else:
            check_run(newest(cwd, "outputs/*/runs/*"))
    elif "scripts/study.py" in command and "--help" not in command:
        study = newest(cwd, "outputs/study/*")
        assert (study / "study.md").is_file()
        for sweep in (p for p in study.iterdir() if (p / "summary.csv").is_file()):
            check_sweep(sweep)
    elif "scripts/aggregate.py" in command:
        assert "tables.md" in result.stdout


def page_cwd(tmp_path_factory, page: str) -> Path:
    folder = tmp_path_factory.getbasetemp() / f"docs-{page}"
    folder.mkdir(exist_ok=True)
    return folder


def is_multirun(command: str) -> bool:
    return " -m" in f" {command}" or "hparams_search=" in command


def fewer_jobs(command: str) -> str:
    """The same multirun with fewer jobs: the first swept list cut to two values, any
    other to one (``-m model/init=zero,free,contextual seed=0,1,2`` -> ``... zero,free seed=0``)."""
    words, kept = [], 2
    for word in shlex.split(command):
        key, _, values = word.partition("=")
        if values and "," in values and "[" not in values and not key.startswith("hydra"):
            word = f"{key}={','.join(values.split(',')[:kept])}"
            kept = 1
        words.append(word)
    return shlex.join(words)


def marks(command: str, slow: bool) -> list:
    found = [pytest.mark.skip(reason=skipped(command))] if skipped(command) else []
    return found + ([pytest.mark.slow] if slow else [])


@pytest.mark.parametrize(
    "page,index,command",
    [
        pytest.param(
            *case,
            marks=marks(case[2], slow=True),  # a process each
            id=f"{case[0]}:{case[1]}:{case[2][:60]}",
        )
        for case in documented()
    ],
)
def test_documented_command_runs_as_written(tmp_path_factory, page, index, command):
    cwd = page_cwd(tmp_path_factory, page)
    args = shrunk(substitute(command, cwd))
    result = run_command(args, cwd, timeout=900)
    check(command, result, cwd)


def test_readmes_first_multirun_with_fewer_jobs(tmp_path):
    """The default suite's one documented command run as a process (the slow suite runs
    every command as written): ``-m seed=0,1`` instead of ``seed=0,1,2``, the same checks."""
    page, index = DEFAULT_MULTIRUN
    command = commands(ROOT / page)[index]
    result = run_command(shrunk(fewer_jobs(command)), tmp_path, timeout=900)
    check(command, result, tmp_path)
    assert len(list(tmp_path.glob("outputs/*/multiruns/*/*/metrics.json"))) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "page,index",
    [(p.name, i) for p in PAGES for i, _ in enumerate(blocks(p, ("python",)))],
)
def test_documented_python_runs_as_written(tmp_path, page, index):
    path = ROOT / ("docs" if page != "README.md" else "") / page
    code = blocks(path, ("python",))[index]
    for command in commands(path):  # the runs the block reads, made first
        name = re.fullmatch(r"python train\.py experiment=(\S+)", command)
        if name and f"outputs/{name.group(1)}/" in code:
            result = run_command(shrunk(command), tmp_path, timeout=900)
            assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    script = tmp_path / "block.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_page_is_read():
    assert len(documented()) >= 10 and any("-m seed=0,1,2" in c for _, _, c in documented())
    page, index = DEFAULT_MULTIRUN
    assert (
        commands(ROOT / page)[index]
        == "python train.py model/init=contextual data=lcd -m seed=0,1,2"
    )


# Hydra's flags in the documented commands, and those that take a value.
FLAGS = {"-m", "--multirun", "--cfg", "--resolve", "--info", "--help"}
FLAG_VALUES = {"--cfg", "--info"}


def composed_overrides(args: list[str]) -> list[list[str]]:
    """The override lists a command's jobs compose: its flags dropped, and each value of a
    swept list once (the others at their first value)."""
    overrides, i = [], 0
    while i < len(args):
        if args[i] in FLAGS:
            i += 1 + (args[i] in FLAG_VALUES and i + 1 < len(args))
            continue
        assert not args[i].startswith("-"), f"a flag this test does not know: {args[i]}"
        overrides.append(args[i])
        i += 1

    def swept(word: str) -> list[str]:
        key, _, values = word.partition("=")
        if "," in values and "[" not in values and "(" not in values:
            return [f"{key}={v}" for v in values.split(",")]
        return [word]

    choices = [swept(word) for word in overrides]
    jobs = [[c[0] for c in choices]]
    for i, values in enumerate(choices):
        for value in values[1:]:
            jobs.append([*jobs[0][:i], value, *jobs[0][i + 1 :]])
    return jobs


COMPOSED: set[tuple[str, ...]] = set()


@pytest.mark.parametrize(
    "page,index,command",
    [
        pytest.param(*case, id=f"{case[0]}:{case[1]}:{case[2][:60]}")
        for case in documented()
        if "hydra.searchpath=" not in case[2]  # its files: tests/test_extending.py
        and "scripts/aggregate.py" not in case[2]  # reads what earlier commands made
    ],
)
def test_documented_command_composes(page, index, command, tmp_path, monkeypatch, capsys):
    """In this process: a train.py command's jobs compose; a study plans its sweeps
    (``--dry-run``, nothing run or written) and their jobs compose."""
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[2:]
    if "scripts/study.py" in command:
        if "--help" in args:
            with pytest.raises(SystemExit) as exit_info:
                study.main(args)
            assert exit_info.value.code == 0 and "--sweeps" in capsys.readouterr().out
            return
        record = study.main([*args, "--dry-run"])
        assert list(tmp_path.iterdir()) == []  # a dry run writes nothing
        jobs = [sweep["command"][3:] for sweep in record["sweeps"]]
        assert jobs and all(
            sweep["command"][1:3] == ["train.py", "-m"] for sweep in record["sweeps"]
        )
        jobs = [composed_overrides(job)[0] for job in jobs]  # each sweep's first job
    else:
        jobs = composed_overrides(args)
    for overrides in jobs:
        if tuple(overrides) not in COMPOSED:  # pages repeat a study's sweeps
            assert compose_config(overrides).model.cell._target_, overrides
            COMPOSED.add(tuple(overrides))


def test_readmes_python_runs_against_trained_runs(lcd_run, art_run, tmp_path, monkeypatch):
    """README's Python blocks, in this process, in a folder where the runs they read
    (``outputs/<experiment>/runs/<time>``) are the suite's trained runs."""
    for name, run in (("lcd_paper", lcd_run), ("art_paper", art_run)):
        (tmp_path / "outputs" / name / "runs").mkdir(parents=True)
        (tmp_path / "outputs" / name / "runs" / "2024-01-01_00-00-00").symlink_to(run)
    monkeypatch.chdir(tmp_path)
    code = blocks(ROOT / "README.md", ("python",))
    assert len(code) >= 3
    for index, block in enumerate(code):
        script = tmp_path / f"block{index}.py"
        script.write_text(block)
        runpy.run_path(str(script), run_name="__main__")
