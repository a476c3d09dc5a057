"""The study's plan, its statistics, and the aggregation of finished runs into tables,
figures and a W&B run."""

import json
import math
from pathlib import Path

import pytest
from scipy.stats import mannwhitneyu

from contextual_rnn.analysis import aggregate, study
from contextual_rnn.analysis.statistics import mann_whitney, median_ci

from . import wandb_files
from .conftest import train_command


def test_the_plan_varies_only_init_and_seed_and_states_its_cuts(tmp_path, capsys):
    record = study.main(
        ["--dry-run", "--out", str(tmp_path / "s"), "--seeds", "0,1", "--art-epochs", "30"]
    )
    sweeps = {s["name"]: s for s in record["sweeps"]}
    assert list(sweeps) == ["art_authors", "art_authors_normal", "art_ba2016", "lcd_authors"]
    for name, sweep in sweeps.items():
        command = sweep["command"]
        assert command[1:3] == ["train.py", "-m"]
        assert "model/init=zero,free,contextual" in command and "seed=0,1" in command
        assert f"name={name}" in command
        assert command[-1] == f"hydra.sweep.dir={tmp_path / 's' / name}"
    assert "preset=ba2016" in sweeps["art_ba2016"]["command"]
    assert "model.embedding_init=normal" in sweeps["art_authors_normal"]["command"]
    assert sweeps["art_authors"]["cuts"] == ["epoch cap 30 instead of the paper's 200"]
    assert sweeps["lcd_authors"]["cuts"] == []
    assert not (tmp_path / "s").exists()  # a dry run writes nothing
    assert "budget cuts" in capsys.readouterr().out


def test_a_continued_study_keeps_its_history_and_the_sweeps_it_does_not_rerun(tmp_path):
    first = study.main(["--dry-run", "--out", str(tmp_path), "--sweeps", "lcd_authors,art_authors"])
    first["sweeps"][0]["attempts"] = [{"started": "then", "status": "completed", "wall_s": 5}]
    first["sweeps"][1]["attempts"] = [{"started": "then", "status": "running"}]  # killed
    (tmp_path / "study.json").write_text(json.dumps(first))
    record = study.main(["--dry-run", "--out", str(tmp_path), "--sweeps", "art_authors",
                         "--art-epochs", "100"])  # fmt: skip
    lcd, art = record["sweeps"]
    assert lcd["name"] == "lcd_authors" and lcd["attempts"][0]["status"] == "completed"
    assert art["name"] == "art_authors" and art["max_epochs"] == 100
    assert art["attempts"] == [{"started": "then", "status": "interrupted"}]
    assert len(record["commands"]) == 2 and "--art-epochs 100" in record["commands"][1]
    assert "lcd_authors" in study.markdown(record)


def test_mann_whitney_matches_scipy_without_ties_and_counts_never_as_slowest():
    a, b = [1.0, 2.5, 3.0, 4.2, 5.1], [2.0, 6.0, 7.5, 8.0, 9.0]
    ours = mann_whitney(a, b)
    theirs = mannwhitneyu(a, b, alternative="two-sided", method="exact")
    assert ours["u"] == theirs.statistic and ours["p"] == pytest.approx(theirs.pvalue)
    assert ours["p_faster"] == pytest.approx(1 - theirs.statistic / 25)  # 21 of 25 pairs
    never = mann_whitney([1.0, 2.0, 3.0], [math.inf, math.inf, math.inf])
    assert never["p_faster"] == 1.0 and never["p"] == pytest.approx(0.1)  # 2 / C(6, 3)
    same = mann_whitney([1.0, 2.0], [1.0, 2.0])
    assert same["p"] == 1.0 and same["p_faster"] == 0.5


def test_median_ci_brackets_the_median():
    median, low, high = median_ci([1.0, 2.0, 3.0, 4.0, 100.0])
    assert median == 3.0 and low <= median <= high and high <= 100.0
    assert median_ci([1.0, math.inf, math.inf])[0] == math.inf  # most never reached


@pytest.fixture(scope="module")
def finished_sweeps(tmp_path_factory) -> Path:
    """Two tiny sweeps as the study runs them: ART and LCD, zero and contextual, two seeds."""
    folder = tmp_path_factory.mktemp("study")
    for name, experiment in (("art_tiny", "art_paper"), ("lcd_tiny", "lcd_paper")):
        result = train_command(
            "-m", f"experiment={experiment}", f"name={name}", "model/init=zero,contextual",
            "seed=0,1", "debug=tiny", "trainer.limit_val_batches=null",
            f"hydra.sweep.dir={folder / name}",  # the study's own layout: one folder per sweep
            cwd=folder,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
    return folder


def test_aggregate_writes_statistics_figures_and_a_wandb_run(finished_sweeps, tmp_path):
    out = tmp_path / "aggregate"
    summary = aggregate.main([str(finished_sweeps), "--out", str(out)])
    assert summary["runs"] == 8 and set(summary["sweeps"]) == {"art_tiny", "lcd_tiny"}
    art = summary["sweeps"]["art_tiny"]["comparisons"]["epochs to 90.0%"]
    assert set(art["per_init"]) == {"zero", "contextual"}
    assert set(art["tests"]) == {"contextual vs zero"}
    assert 0 <= art["tests"]["contextual vs zero"]["p"] <= 1
    lcd = summary["sweeps"]["lcd_tiny"]["comparisons"]["final val/rollout_mse"]
    assert all(len(stats["values"]) == 2 for stats in lcd["per_init"].values())
    tables = (out / "tables.md").read_text()
    assert "## art_tiny (ART, preset authors)" in tables and "median [95% CI]" in tables
    assert "Calibration of the generated fans" in tables
    calibration = {(r["init"], r["periods"]): r for r in summary["calibration"]}
    assert calibration[("zero", "validation")]["width"] == 0  # one h0: the fan has no width
    assert calibration[("contextual", "validation")]["width"] > 0
    for figure in ("fig2_art_tiny.png", "fig5_lcd_tiny.png", "fig6_lcd_tiny.png"):
        assert (out / figure).stat().st_size > 10_000
    saved = json.loads((out / "summary.json").read_text())
    assert saved["wandb_run"] == summary["wandb_run"]
    run = wandb_files.run_files(out)[0]
    info = wandb_files.run_info(run)
    assert info["group"] == finished_sweeps.name and info["job_type"] == "aggregate"
    logged = {k for row in wandb_files.history(run) for k in row}
    assert any(k.startswith("art_tiny/runs") for k in logged)
    assert any(k.startswith("lcd_tiny/tests") for k in logged)
    assert any(k.startswith("figures/fig2_art_tiny") for k in logged)
