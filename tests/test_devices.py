"""Where a run and a trained model compute: the trainer=cpu / trainer=gpu presets,
matmul_precision, and validating a trained model on the CPU."""

import csv

import pytest
import pytorch_lightning as pl
import torch

from contextual_rnn.checkpoints import find_checkpoint
from contextual_rnn.config import compose_config
from contextual_rnn.errors import ConfigError
from contextual_rnn.module import SequenceModule
from contextual_rnn.train import check_config, train

from .conftest import tiny_overrides

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
def test_trainer_gpu_without_a_gpu_is_one_line(tiny_config):
    with pytest.raises(ConfigError) as error:
        check_config(tiny_config("lcd", "trainer=gpu"))
    assert str(error.value) == (
        "trainer.accelerator='gpu' is not allowed: expected cpu or auto: this machine has no GPU"
    )


def test_matmul_precision_is_applied_and_checked(tiny_config, tmp_path):
    one_step = ["trainer=cpu", "trainer.max_epochs=1", "trainer.limit_train_batches=1"]
    try:
        overrides = tiny_overrides("lcd", *one_step, "matmul_precision=medium")
        train(compose_config(overrides, output_dir=tmp_path / "a"))
        assert torch.get_float32_matmul_precision() == "medium"
        train(compose_config(tiny_overrides("lcd", *one_step), output_dir=tmp_path / "b"))
        assert torch.get_float32_matmul_precision() == "highest"  # the default, set again
    finally:
        torch.set_float32_matmul_precision("highest")
    with pytest.raises(ConfigError) as error:
        check_config(tiny_config("lcd", "matmul_precision=fast"))
    assert str(error.value) == (
        "matmul_precision='fast' is not allowed: expected one of highest, high, medium"
    )


def test_validating_on_the_cpu_reproduces_the_logged_metrics(lcd_run):
    module = SequenceModule.load(lcd_run)
    trainer = pl.Trainer(logger=False, accelerator="cpu", enable_progress_bar=False)
    metrics = trainer.validate(module, module.datamodule(), verbose=False)[0]
    epoch = torch.load(find_checkpoint(lcd_run), weights_only=True)["epoch"]
    with (lcd_run / "csv" / "metrics.csv").open() as file:
        logged = [r for r in csv.DictReader(file) if r["val/loss"] and int(r["epoch"]) == epoch]
    assert metrics["val/loss"] == pytest.approx(float(logged[0]["val/loss"]), rel=1e-6)
