"""evaluate / generate / answer from checkpoints, and their one-line errors."""

import csv
import json

import numpy as np
import pytest
import torch

from contextual_rnn.cli import main
from contextual_rnn.core.checkpoints import CheckpointError, find_checkpoint, load_module
from contextual_rnn.core.tasks.art import encode_text
from contextual_rnn.training.compose import compose_config
from contextual_rnn.training.train import train

from .conftest import tiny_overrides

FULL_VALIDATION = ["trainer.limit_val_batches=null", "trainer.max_epochs=2"]


def trained_run(tmp_path_factory, name: str, data: str, *overrides: str):
    out = tmp_path_factory.mktemp(name)
    train(compose_config(tiny_overrides(data, *FULL_VALIDATION, *overrides), output_dir=out))
    return out


@pytest.fixture(scope="module")
def lcd_run(tmp_path_factory):
    return trained_run(tmp_path_factory, "lcd", "lcd", "model/init=contextual")


@pytest.fixture(scope="module")
def lcd_deterministic_run(tmp_path_factory):
    return trained_run(
        tmp_path_factory,
        "lcd_det",
        "lcd",
        "model/init=contextual",
        "model.context_net.distribution=deterministic",
    )


@pytest.fixture(scope="module")
def art_run(tmp_path_factory):
    return trained_run(tmp_path_factory, "art", "art", "model/cell=fast_weights")


def logged_val_loss(run, epoch: int) -> float:
    with (run / "csv" / "metrics.csv").open() as file:
        rows = [r for r in csv.DictReader(file) if r["val/loss"] and int(r["epoch"]) == epoch]
    return float(rows[0]["val/loss"])


def test_evaluate_reproduces_the_logged_metrics(lcd_run, capsys):
    main(["evaluate", str(lcd_run)])
    best = find_checkpoint(lcd_run)
    epoch = torch.load(best, weights_only=True)["epoch"]
    report = json.loads(best.with_name(best.stem + ".eval.json").read_text())
    assert report["metrics"]["val/loss"] == pytest.approx(logged_val_loss(lcd_run, epoch), rel=1e-6)
    assert report["sequences"] == 40
    assert "val/rollout_mse" in capsys.readouterr().out


def test_evaluate_on_a_fresh_test_split(lcd_run):
    report_path = find_checkpoint(lcd_run, "last").with_name("last.test-seed7-size3.eval.json")
    main(["evaluate", str(lcd_run), "--which", "last", "--test-seed", "7", "--test-size", "3"])
    report = json.loads(report_path.read_text())
    assert report["split"] == "test" and report["sequences"] == 3 * 4
    assert report["metrics"]["val/loss"] != pytest.approx(logged_val_loss(lcd_run, 1), rel=1e-6)


def test_generate_samples_distinct_trajectories(lcd_run, tmp_path, capsys):
    main(
        [
            "generate",
            str(lcd_run),
            "--period",
            "1.5",
            "6",
            "--x0",
            "3",
            "--samples",
            "5",
            "--out",
            str(tmp_path),
        ]
    )
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000
    saved = np.load(tmp_path / "trajectories.npz")
    samples = saved["samples"]
    assert samples.shape == (2, 5, 26)
    assert np.allclose(
        samples[:, :, 0], 3.0 * 1.001
    )  # every rollout starts at x(0) = x0 (1 + beta)
    assert len({tuple(row) for row in samples[0].round(6)}) == 5  # 5 distinct trajectories
    assert saved["truth"].shape == (2, 26)
    assert "period=6 is outside the training range [0.5, 4.5]" in capsys.readouterr().err


def test_generate_with_a_deterministic_init_says_samples_coincide(
    lcd_deterministic_run, tmp_path, capsys
):
    main(
        [
            "generate",
            str(lcd_deterministic_run),
            "--period",
            "2",
            "--samples",
            "4",
            "--out",
            str(tmp_path),
        ]
    )
    samples = np.load(tmp_path / "trajectories.npz")["samples"]
    assert np.array_equal(samples[0, 0], samples[0, 3])
    assert "all 4 samples coincide" in capsys.readouterr().err


def test_answer_matches_the_models_forward_pass(art_run, capsys):
    main(["answer", str(art_run), "c9k8j3f1??c", "a0b1z2y3??z"])
    printed = capsys.readouterr().out.strip().splitlines()
    module = load_module(art_run)
    for line, text in zip(printed, ["c9k8j3f1??c", "a0b1z2y3??z"], strict=True):
        with torch.no_grad():
            logits = module({"inputs": encode_text(text)[None]}, sample=False)[:, -1]
        probabilities = logits.softmax(-1)[0]
        best = int(probabilities.argmax())
        answer = module.task.describe_class(best)
        assert line == f"{text} -> {answer} (p={probabilities[best]:.3f})"


def test_answer_refuses_a_malformed_query_in_one_line(art_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["answer", str(art_run), "c9k8j3f1??x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: 'c9k8j3f1??x': the query 'x' is not one of the keys 'ckjf'"


def test_bad_checkpoints_give_one_line(lcd_run, art_run, tmp_path, capsys):
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(find_checkpoint(lcd_run).read_bytes()[:2000])
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    cases = [
        (["evaluate", str(tmp_path / "missing.ckpt")], "no checkpoint or run folder at"),
        (["evaluate", str(truncated)], "is not a readable checkpoint (truncated or corrupt"),
        (["evaluate", str(foreign)], "is not a Lightning checkpoint"),
        (
            ["answer", str(lcd_run), "c9k8j3f1??c"],
            "trained on LCD, a regression task; this needs a classification",
        ),
        (
            ["generate", str(art_run), "--period", "1"],
            "trained on ART, a classification task; this needs a regression",
        ),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err


def test_checkpoints_load_with_weights_only(lcd_run):
    for path in (lcd_run / "checkpoints").rglob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=True)
        assert set(checkpoint["hyper_parameters"]) == {"model", "task", "fitted", "data"}


def test_find_checkpoint_errors(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="no best checkpoint"):
        find_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no last.ckpt"):
        find_checkpoint(tmp_path, "last")
