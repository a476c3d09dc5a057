"""Where a run and a trained model compute: the trainer=cpu / trainer=gpu presets,
matmul_precision, and validating a trained model on the CPU."""

import csv

import pytest
import pytorch_lightning as pl
import torch

from contextual_rnn.checkpoints import find_checkpoint
from contextual_rnn.config import compose_config
from contextual_rnn.module import SequenceModule
from contextual_rnn.train import train

from .conftest import tiny_overrides, train_command

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")


def test_the_presets_set_device_precision_and_matmul_precision():
    gpu = compose_config(["trainer=gpu", "data=art"])
    assert (gpu.trainer.accelerator, gpu.trainer.devices, gpu.trainer.precision) == (
        "gpu",
        1,
        "32-true",
    )
    assert gpu.matmul_precision == "high"
    assert gpu.trainer.max_epochs == 200 and gpu.trainer.num_sanity_val_steps == 0  # task, default
    cpu = compose_config(["trainer=cpu"])
    assert (cpu.trainer.accelerator, cpu.trainer.devices) == ("cpu", 1)
    assert compose_config([]).matmul_precision == "highest"


@no_gpu
def test_trainer_gpu_without_a_gpu_is_one_line():
    result = train_command("trainer=gpu", "debug=tiny", "logger=csv")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: trainer.accelerator='gpu' is not allowed: expected cpu or auto: "
        "this machine has no GPU"
    )


def test_matmul_precision_is_applied_and_checked(tmp_path):
    try:
        train(compose_config([*tiny_overrides("lcd", "trainer=cpu")], output_dir=tmp_path / "a"))
        assert torch.get_float32_matmul_precision() == "highest"
        overrides = tiny_overrides("lcd", "trainer=cpu", "matmul_precision=medium")
        train(compose_config(overrides, output_dir=tmp_path / "b"))
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision("highest")
    result = train_command("debug=tiny", "logger=csv", "matmul_precision=fast")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: matmul_precision='fast' is not allowed: expected one of highest, high, medium"
    )


@pytest.fixture(scope="module")
def lcd_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lcd")
    overrides = tiny_overrides("lcd", "trainer.limit_val_batches=null")
    train(compose_config(overrides, output_dir=out))
    return out


def test_validating_on_the_cpu_reproduces_the_logged_metrics(lcd_run):
    module = SequenceModule.load(lcd_run)
    trainer = pl.Trainer(logger=False, accelerator="cpu", enable_progress_bar=False)
    metrics = trainer.validate(module, module.datamodule(), verbose=False)[0]
    epoch = torch.load(find_checkpoint(lcd_run), weights_only=True)["epoch"]
    with (lcd_run / "csv" / "metrics.csv").open() as file:
        logged = [r for r in csv.DictReader(file) if r["val/loss"] and int(r["epoch"]) == epoch]
    assert metrics["val/loss"] == pytest.approx(float(logged[0]["val/loss"]), rel=1e-6)
