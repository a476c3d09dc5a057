"""Using a trained model in Python: load, validate, rollout, answer."""

import csv

import pytest
import pytorch_lightning as pl
import torch

from contextual_rnn.checkpoints import CheckpointError, find_checkpoint
from contextual_rnn.figures import fan_grid, save
from contextual_rnn.module import SequenceClassifier, SequenceModule, SequenceRegressor
from contextual_rnn.tasks.art import encode_text
from contextual_rnn.train import build_run

# lcd_run, art_run: the suite's trained runs (conftest.py). Loading a bad checkpoint and
# the one-line errors of using a model: tests/test_bad_inputs.py's table.


def logged_val_loss(run, epoch: int) -> float:
    with (run / "csv" / "metrics.csv").open() as file:
        rows = [r for r in csv.DictReader(file) if r["val/loss"] and int(r["epoch"]) == epoch]
    return float(rows[0]["val/loss"])


def validate(module, datamodule) -> dict[str, float]:
    trainer = pl.Trainer(logger=False, enable_progress_bar=False)
    return trainer.validate(module, datamodule, verbose=False)[0]


def test_validate_reproduces_the_logged_metrics(lcd_run):
    module = SequenceModule.load(lcd_run)
    assert isinstance(module, SequenceRegressor) and not module.training
    datamodule = module.datamodule()
    metrics = validate(module, datamodule)
    epoch = torch.load(find_checkpoint(lcd_run), weights_only=True)["epoch"]
    assert metrics["val/loss"] == pytest.approx(logged_val_loss(lcd_run, epoch), rel=1e-6)
    assert len(datamodule.splits["val"]) == 40
    assert "val/rollout_mse" in metrics


def test_validate_on_a_fresh_test_split(lcd_run):
    module = SequenceModule.load(lcd_run, which="last")
    datamodule = module.datamodule(test_size=3, test_seed=7)
    metrics = validate(module, datamodule)
    assert len(datamodule.splits["val"]) == 3 * 4
    assert metrics["val/loss"] != pytest.approx(logged_val_loss(lcd_run, 1), rel=1e-6)


def test_rollout_samples_distinct_trajectories(lcd_run, tmp_path):
    module = SequenceRegressor.load(lcd_run)
    conditions = {"period": torch.tensor([1.5, 6.0]), "x0": torch.tensor([3.0, 3.0])}
    torch.manual_seed(0)
    samples = module.rollout(conditions, num_samples=5)
    assert samples.shape == (2, 5, 26)
    assert torch.allclose(samples[:, :, 0], torch.tensor(3.0 * 1.001))  # x(0) = x0 (1 + beta)
    assert len({tuple(row) for row in samples[0].round(decimals=6).tolist()}) == 5  # distinct
    torch.manual_seed(0)
    assert torch.equal(module.rollout(conditions, num_samples=5), samples)  # the seed's draw
    mean = module.rollout(conditions, sample=False, num_samples=2)
    assert torch.equal(mean[:, 0], mean[:, 1])
    truth = module.task.truth(conditions, 25)
    assert truth.shape == (2, 26)
    titles = [module.task.describe(conditions, i) for i in range(2)]
    save(fan_grid(samples, truth, titles), tmp_path / "trajectories.png")
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000


def test_rollout_with_a_deterministic_init_gives_coinciding_samples(tiny_config):
    cfg = tiny_config("lcd", "model.context_net.distribution=deterministic")
    module = build_run(cfg)[1].eval()  # what rollout does needs no training
    assert isinstance(module, SequenceRegressor) and not module.net.stochastic
    conditions = {"period": torch.tensor([2.0]), "x0": torch.tensor([3.0])}
    samples = module.rollout(conditions, num_samples=4)
    assert torch.equal(samples[0, 0], samples[0, 3])


def test_answer_matches_the_models_forward_pass(art_run):
    module = SequenceClassifier.load(art_run)
    for text in ["c9k8j3f1??c", "a0b1z2y3??z"]:
        with torch.no_grad():
            logits = module({"inputs": encode_text(text)[None]}, sample=False)[:, -1]
        probabilities = logits.softmax(-1)[0]
        best = int(probabilities.argmax())
        answer, probability = module.answer(text)
        assert answer == module.task.describe_class(best)
        assert probability == pytest.approx(float(probabilities[best]))


def test_checkpoints_load_with_weights_only(lcd_run, art_run):
    paths = [*(lcd_run / "checkpoints").rglob("*.ckpt"), *(art_run / "checkpoints").rglob("*.ckpt")]
    assert len(paths) >= 4  # best, last and resume checkpoints of each
    for path in paths:
        checkpoint = torch.load(path, weights_only=True)
        assert set(checkpoint["hyper_parameters"]) == {"model", "task", "fitted", "data"}


def test_find_checkpoint_errors(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="no best checkpoint"):
        find_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no last.ckpt"):
        find_checkpoint(tmp_path, "last")
