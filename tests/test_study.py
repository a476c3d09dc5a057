"""The study's plan, its statistics, and the aggregation of finished runs into tables,
figures and a W&B run."""

import json
import math
import shutil
from pathlib import Path

import pytest
from scipy.stats import mannwhitneyu, wilcoxon

from contextual_rnn.analysis import report, study
from contextual_rnn.analysis.report import Report, compared, p_value, run_numbers
from contextual_rnn.analysis.runs import read_all
from contextual_rnn.analysis.stats import (
    hodges_lehmann,
    holm,
    mann_whitney,
    median_interval,
    signed_rank,
)

from . import wandb_files
from .conftest import train_command


def test_the_plan_varies_only_init_and_seed_and_states_its_cuts(tmp_path, capsys):
    record = study.main(
        ["--dry-run", "--out", str(tmp_path / "s"), "--seeds", "0,1", "--art-epochs", "30"]
    )
    sweeps = {s["name"]: s for s in record["sweeps"]}
    assert list(sweeps)[:4] == ["art_authors", "art_authors_normal", "art_ba2016", "lcd_authors"]
    for name, sweep in sweeps.items():
        command = sweep["command"]
        assert command[1:3] == ["train.py", "-m"]
        inits = ",".join(sweep["inits"])  # every init unless the sweep names fewer
        assert f"model/init={inits}" in command and "seed=0,1" in command
        # seeds outermost: a study stopped part way has whole seeds of every init
        assert command.index("seed=0,1") < command.index(f"model/init={inits}")
        assert f"name={name}" in command
        assert command[-1] == f"hydra.sweep.dir={tmp_path / 's' / name}"
        assert study.RUN_FOLDER in command
    assert sweeps["art_authors"]["inits"] == ["zero", "free", "contextual"]
    assert sweeps["ablation_g_torch"]["inits"] == ["contextual"]  # zero h0 has no g
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


def test_ctrl_c_lets_the_sweep_stop_and_ends_the_study_in_one_line(
    tmp_path, monkeypatch, capsys, python_sigint
):
    """The sweep (which gets the same Ctrl-C) is waited for, not killed, and the study
    records the attempt as interrupted and exits 130 with one line."""
    import os
    import signal
    import sys
    import threading

    done = tmp_path / "sweep saved its jobs"
    child = f"import time; time.sleep(1.5); open({str(done)!r}, 'w').close()"
    sweep = {"log": str(tmp_path / "log.txt"), "command": [sys.executable, "-c", child]}
    monkeypatch.setattr(study, "GRACE_S", 30)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()  # Ctrl-C, mid-sweep
    with pytest.raises(KeyboardInterrupt):
        study.run_sweep(sweep)
    assert done.is_file()

    def interrupted(sweep):
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "run_sweep", interrupted)
    with pytest.raises(SystemExit) as stopped:
        study.main(["--out", str(tmp_path / "s"), "--sweeps", "lcd_authors"])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "error: interrupted; the same command continues it\n"
    record = json.loads((tmp_path / "s" / "study.json").read_text())
    assert record["sweeps"][0]["attempts"][-1]["status"] == "interrupted"


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
    # ties (runs that never reached it): exact over the mid-ranks' 252 assignments, as
    # docs/results.md reports it (scipy's "exact" ignores ties and would give 0.056)
    tied = mann_whitney([50.0, *[math.inf] * 4], [8.0, math.inf, 14.0, 17.0, 11.0])
    assert tied["p"] == pytest.approx(12 / 252) and tied["p_faster"] == pytest.approx(0.12)


def test_the_median_interval_is_a_pair_of_order_statistics_with_its_true_coverage():
    five = median_interval([4.0, 1.0, 3.0, 2.0, 100.0])
    assert (five["median"], five["low"], five["high"]) == (3.0, 1.0, 100.0)
    assert five["coverage"] == pytest.approx(1 - 2 / 32)  # [min, max]: no 95% one exists
    ten = median_interval([float(v) for v in range(10, 0, -1)])
    assert (ten["low"], ten["high"]) == (2.0, 9.0)  # the 2nd and 9th of ten
    assert ten["coverage"] == pytest.approx(1 - 2 * 11 / 1024)
    assert median_interval([1.0, math.inf, math.inf])["median"] == math.inf  # most never


def test_the_effect_is_hodges_lehmann_with_moses_interval():
    twice = hodges_lehmann([2.0, 4.0, 6.0, 8.0, 10.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert twice["kind"] == "ratio" and twice["estimate"] == pytest.approx(2.0)
    # 5 against 5: the 3rd smallest and 3rd largest of the 25 pairwise ratios, 96.8%
    assert twice["coverage"] == pytest.approx(1 - 2 * 4 / 252)
    assert twice["low"] == pytest.approx(2 / 3) and twice["high"] == pytest.approx(6.0)
    shift = hodges_lehmann([0.91, 0.92, 0.93], [0.95, 0.96, 0.97], ratio=False)
    assert shift["kind"] == "difference" and shift["estimate"] == pytest.approx(-0.04)
    never = hodges_lehmann([math.inf, math.inf], [math.inf, math.inf])
    assert never["estimate"] == 1.0  # two runs that never reached it tie


def test_the_paired_test_is_the_exact_signed_rank_test_and_holm_steps_down():
    assert signed_rank([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 32)  # 5 seeds' floor
    assert signed_rank([1.0, -2.0, *range(3, 11)]) == pytest.approx(
        wilcoxon([1, -2, *range(3, 11)]).pvalue
    )
    assert signed_rank([math.inf, 0.0, 0.0]) == 1.0  # one nonzero difference: p = 1
    assert holm([0.01, 0.04, 0.03, math.nan]) == pytest.approx(
        [0.03, 0.06, 0.06, math.nan], nan_ok=True
    )


def test_ten_seeds_reach_p_values_the_tables_print_with_an_exponent():
    separated = mann_whitney(list(range(10)), list(range(10, 20)))
    assert separated["p"] == pytest.approx(2 / 184756)  # C(20, 10): exact, not sampled
    assert p_value(separated["p"]) == "1.1e-05"  # not "0.000"
    assert signed_rank(list(range(1, 11))) == pytest.approx(2 / 1024)  # 10 pairs' floor
    assert [p_value(p) for p in (0.0079, 0.0, None, math.nan)] == ["0.008", "0.000", "-", "-"]


def test_a_report_says_what_a_tasks_runs_report_and_the_default_fits_any_task():
    scored = Report(
        metrics={"val/loss": "min", "val/score": "max"},
        thresholds={"val/loss": (0.5,), "val/score": (2.0,)},
    )

    curve = [
        {"epochs": 1.0, "val/loss": 0.9, "val/score": 1.0, "time/cpu_s": 3.0},
        {"epochs": 2.0, "val/loss": 0.4, "val/score": 1.5, "time/cpu_s": 6.0},
        {"epochs": 3.0, "val/loss": 0.6, "val/score": 1.2, "time/cpu_s": 9.0},
    ]
    numbers = run_numbers(scored, curve)
    assert numbers["final val/loss"] == 0.6 and numbers["best val/loss"] == 0.4
    assert numbers["best val/score"] == 1.5 and numbers["epochs trained"] == 3.0
    assert numbers["epochs to val/loss 0.5"] == 2.0 and numbers["cpu_s to val/loss 0.5"] == 6.0
    assert numbers["epochs to val/score 2"] == math.inf  # never reached: the slowest
    assert compared(scored)["best val/score"] == "max"
    assert compared(scored)["epochs to val/loss 0.5"] == "min"
    assert run_numbers(Report(), curve)["best val/loss"] == 0.4
    assert compared(Report()) == {"final val/loss": "min", "best val/loss": "min"}


@pytest.fixture(scope="module")
def finished_sweeps(tmp_path_factory) -> Path:
    """Two tiny sweeps as the study runs them: ART and LCD, zero and contextual, two seeds."""
    folder = tmp_path_factory.mktemp("study")
    for name, experiment in (("art_tiny", "art_paper"), ("lcd_tiny", "lcd_paper")):
        result = train_command(
            "-m", f"experiment={experiment}", f"name={name}", "model/init=zero,contextual",
            "seed=0,1", "debug=tiny", "trainer.limit_val_batches=null",
            f"hydra.sweep.dir={folder / name}",  # the study's own layout: one folder per sweep
            study.RUN_FOLDER,
            cwd=folder,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.mark.slow  # trains a sweep or aggregates every committed curve: minutes
def test_aggregate_writes_statistics_figures_and_a_wandb_run(finished_sweeps, tmp_path):
    out = tmp_path / "aggregate"
    summary = report.main([str(finished_sweeps), "--out", str(out)])
    runs = sorted(p.parent.name for p in (finished_sweeps / "art_tiny").glob("*/status.json"))
    assert runs == ["seed0-contextual", "seed0-zero", "seed1-contextual", "seed1-zero"]
    assert summary["runs"] == 8 and set(summary["sweeps"]) == {"art_tiny", "lcd_tiny"}
    art = summary["sweeps"]["art_tiny"]["comparisons"]["epochs to 90.0%"]
    assert set(art["per_init"]) == {"zero", "contextual"}
    assert set(art["tests"]) == {"contextual vs zero"}
    assert 0 <= art["tests"]["contextual vs zero"]["p"] <= 1
    lcd = summary["sweeps"]["lcd_tiny"]["comparisons"]["final val/rollout_mse"]
    assert all(len(stats["values"]) == 2 for stats in lcd["per_init"].values())
    tables = (out / "tables.md").read_text()
    assert "## art_tiny (ART, preset authors)" in tables and "interval]" in tables
    effect = art["tests"]["contextual vs zero"]["effect"]
    assert effect["kind"] == "ratio" and effect["low"] <= effect["estimate"] <= effect["high"]
    assert 0 <= art["tests"]["contextual vs zero"]["holm_p"] <= 1
    # the curves it wrote rebuild the same tables without the run folders
    again = report.main([str(out / "curves"), "--out", str(tmp_path / "again"), "--no-fans"])
    assert (
        again["sweeps"]["art_tiny"]["comparisons"] == summary["sweeps"]["art_tiny"]["comparisons"]
    )
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


@pytest.mark.slow  # trains a sweep or aggregates every committed curve: minutes
def test_committed_curves_and_the_run_folders_of_later_seeds_aggregate_together(
    finished_sweeps, tmp_path
):
    """A study continued elsewhere: its curves hold seeds 0 and 1, the new machine's run
    folders seed 1 again (rerun) and nothing else; each run is counted once, the folder
    preferred."""
    report.aggregate([finished_sweeps / "art_tiny"], tmp_path / "first", fans=False)
    for run in (finished_sweeps / "art_tiny").glob("seed1-*"):
        shutil.copytree(run, tmp_path / "later" / run.name, ignore=shutil.ignore_patterns("wandb"))
    runs = read_all([tmp_path / "first" / "curves", tmp_path / "later"])
    assert sorted((r["init"], r["seed"], r["folder"] is None) for r in runs) == [
        ("contextual", 0, True), ("contextual", 1, False), ("zero", 0, True), ("zero", 1, False)
    ]  # fmt: skip


@pytest.mark.slow  # trains a sweep or aggregates every committed curve: minutes
def test_a_task_without_a_report_is_summarised_by_the_default(finished_sweeps, tmp_path):
    """A run of a task the study has no report for gets the default: the final and best
    val/loss, a curve figure."""
    for config in (finished_sweeps / "art_tiny").glob("*/.hydra/config.yaml"):
        copy = tmp_path / "runs" / config.parents[1].name
        shutil.copytree(config.parents[1], copy, ignore=shutil.ignore_patterns("wandb"))
        text = config.read_text().replace("contextual_rnn.tasks.art.ART", "my_tasks.Ramp")
        (copy / ".hydra" / "config.yaml").write_text(text)
    summary = report.aggregate([tmp_path / "runs"], tmp_path / "out", fans=False)
    comparisons = summary["sweeps"]["art_tiny"]["comparisons"]
    assert set(comparisons) == {"final val/loss", "best val/loss"}
    assert summary["figures"] == ["curves_art_tiny.png"] and summary["calibration"] == []
    assert (tmp_path / "out" / "curves_art_tiny.png").stat().st_size > 10_000


@pytest.mark.slow  # trains a sweep or aggregates every committed curve: minutes
def test_the_committed_curves_rebuild_the_tables_of_docs_results(tmp_path):
    """docs/results.md is checkable: its tables come from the committed per-run curves."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    report.main([str(docs / "results" / "curves"), "--out", str(tmp_path), "--no-fans"])
    rebuilt = (tmp_path / "tables.md").read_text()
    assert rebuilt == (docs / "results" / "tables.md").read_text()
    page = (docs / "results.md").read_text()
    headline = next(line for line in rebuilt.splitlines() if line.startswith("| ablation_base |"))
    assert headline in page  # the ablation's reference row, as the page prints it
