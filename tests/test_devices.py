"""Where a run and a trained model compute: the trainer=cpu / trainer=gpu presets,
matmul_precision, and ``contextual-rnn ... --device``."""

import csv
import json

import pytest
import torch

from contextual_rnn.cli import chosen_device, main
from contextual_rnn.core.checkpoints import find_checkpoint
from contextual_rnn.training.compose import compose_config
from contextual_rnn.training.train import train

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


def test_evaluate_on_the_cpu_reproduces_the_logged_metrics(lcd_run, capsys):
    main(["evaluate", str(lcd_run), "--device", "cpu"])
    best = find_checkpoint(lcd_run)
    epoch = torch.load(best, weights_only=True)["epoch"]
    report = json.loads(best.with_name(best.stem + ".eval.json").read_text())
    with (lcd_run / "csv" / "metrics.csv").open() as file:
        logged = [r for r in csv.DictReader(file) if r["val/loss"] and int(r["epoch"]) == epoch]
    assert report["metrics"]["val/loss"] == pytest.approx(float(logged[0]["val/loss"]), rel=1e-6)


def test_auto_is_the_gpu_where_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert chosen_device("auto").type == expected
    assert chosen_device("cpu").type == "cpu"


@no_gpu
@pytest.mark.parametrize(
    "argv",
    [["evaluate"], ["generate", "--period", "1", "--x0", "3"], ["answer", "c9k8j3f1??c"]],
    ids=["evaluate", "generate", "answer"],
)
def test_device_cuda_without_a_gpu_is_one_line(lcd_run, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main([argv[0], str(lcd_run), *argv[1:], "--device", "cuda"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: --device cuda: expected cpu or auto: this machine has no GPU"
    )
