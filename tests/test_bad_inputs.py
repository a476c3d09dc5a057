"""Every bad input: one line on stderr, naming the key or flag, the value and what is allowed,
with exit code 2 (4 when a file cannot be written), before anything trains.

The table covers every config group, the trainer, the seed, the run folder, the checkpoint
to start from and write failures; loading a trained model and using it raise one-line
exceptions instead (``CheckpointError``, ``ConfigError``, ``InputError``). Each training
row is checked in this process on the composed config: the line a composition error
becomes (``composition_error``), else the ``ConfigError`` of ``check_config``, which is
what the command prints after ``error: ``. The rows only the command itself refuses
(Hydra's callback: the run or sweep folder, a sweep's choices) run ``train.py`` in this
process, and ``test_the_table_holds_through_the_command_line`` runs three rows as real
processes: one line on stderr, exit code 2, no folder. The unknown-choice rows are
derived from ``conf/``.
"""

import errno
import os
import pickle
import warnings
from functools import partial
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, OverrideParseException

from contextual_rnn.checkpoints import CheckpointError, find_checkpoint
from contextual_rnn.config import CONFIG_DIR, compose_config, composition_error
from contextual_rnn.errors import ConfigError, InputError
from contextual_rnn.module import SequenceClassifier, SequenceModule, SequenceRegressor
from contextual_rnn.resume import hold
from contextual_rnn.train import check_config, run

from .conftest import (
    TINY_ART,
    TINY_LCD,
    one_line_error,
    tiny_overrides,
    train_command,
    train_py_in_process,
)

GROUPS = sorted(
    str(p.relative_to(CONFIG_DIR))
    for p in Path(CONFIG_DIR).rglob("*")
    if p.is_dir()
    and p.name != "__pycache__"  # conf/ is a package (pkg://contextual_rnn.conf)
    and not str(p.relative_to(CONFIG_DIR)).startswith("hydra")
)


def options(group: str) -> str:
    return ", ".join(sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml")))


# (overrides, the start of the one-line message); data=lcd unless an override picks ART.
TRAIN_CASES = [
    *[([f"{g}=nonexistent"], f"{g}=nonexistent is not an option; allowed: {options(g)}") for g in GROUPS],
    (["model.lr=3"], "Could not override 'model.lr'. To append to your config use +model.lr=3"),
    (["+model.lr=3"], "model.lr=3 is not allowed: expected one of its options: cell, init, optimizer, embedding_dim"),
    (["+data.batchsize=3"], "data.batchsize=3 is not allowed: expected one of its options: task, batch_size"),
    (["+trainer.foo=1"], "trainer.foo=1 is not allowed: expected an argument of pytorch_lightning.Trainer"),
    (["+trainer.strategy=foo"], "trainer.strategy='foo' is not allowed: expected what pytorch_lightning.Trainer accepts: You selected an invalid strategy name"),
    (["+trainer.num_nodes=0"], "trainer.num_nodes=0 is not allowed: expected what pytorch_lightning.Trainer accepts: `num_nodes` must be a positive integer"),
    (["trainer.devices=[0,0]"], "trainer.devices=[0, 0] is not allowed: expected what pytorch_lightning.Trainer accepts"),
    (["+trainer.enable_checkpointing=false"], "trainer.enable_checkpointing=False is not allowed: expected what pytorch_lightning.Trainer accepts"),
    (["callbacks.best_checkpoint.filename=../../../x"], "callbacks.best_checkpoint.filename='../../../x' is not allowed: expected a path inside the run folder"),
    (["callbacks.resume_checkpoint.dirpath=/tmp"], "callbacks.resume_checkpoint.dirpath='/tmp' is not allowed: expected a path inside the run folder"),
    (["+model.optimizer.betas=[0.9]"], "model.optimizer={'lr': 0.0002, 'betas': [0.9], 'fused': True} is not allowed: expected options it accepts"),
    (["model.cell.hidden_size=[1"], "model.cell.hidden_size=[1"),
    (["seed=abc"], "seed='abc' is not allowed: expected an integer from 0 to 2**32 - 1"),
    (["seed=-1"], "seed=-1 is not allowed"),
    (["seed=1.5"], "seed=1.5 is not allowed"),
    (["seed=true"], "seed=True is not allowed"),
    (["seed=5000000000"], "seed=5000000000 is not allowed"),
    (["threads=0"], "threads=0 is not allowed: expected a positive integer"),
    (["threads=abc"], "threads='abc' is not allowed"),
    (["trainer.max_epochs=abc"], "trainer.max_epochs='abc' is not allowed: expected an integer >= 1"),
    (["trainer.max_epochs=-5"], "trainer.max_epochs=-5 is not allowed"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 is not allowed"),
    (["trainer.max_epochs=1.5"], "trainer.max_epochs=1.5 is not allowed"),
    (["++trainer.limit_train_batches=0"], "trainer.limit_train_batches=0 is not allowed: expected an integer >= 1 (batches) or a fraction in (0, 1]"),
    (["++trainer.limit_train_batches=-1"], "trainer.limit_train_batches=-1 is not allowed"),
    (["++trainer.limit_train_batches=1.5"], "trainer.limit_train_batches=1.5 is not allowed"),
    (["++trainer.limit_val_batches=-1"], "trainer.limit_val_batches=-1 is not allowed: expected an integer >= 0"),
    (["+trainer.val_check_interval=0"], "trainer.val_check_interval=0 is not allowed"),
    (["trainer.devices=0"], "trainer.devices=0 is not allowed: expected a positive integer, -1 (all)"),
    (["trainer.devices=abc"], "trainer.devices='abc' is not allowed"),
    (["trainer.accelerator=gpu"], "trainer.accelerator='gpu' is not allowed: expected cpu or auto: this machine has no GPU"),
    (["trainer.accelerator=abacus"], "trainer.accelerator='abacus' is not allowed: expected one of auto, cpu"),
    (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val=-1 is not allowed: expected a finite number >= 0.0"),
    (["trainer.gradient_clip_val=nan"], "trainer.gradient_clip_val=nan is not allowed"),
    (["trainer.gradient_clip_algorithm=max"], "trainer.gradient_clip_algorithm='max' is not allowed: expected one of norm, value"),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0 is not allowed"),
    (["+trainer.check_val_every_n_epoch=0"], "trainer.check_val_every_n_epoch=0 is not allowed"),
    (["+trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches=0 is not allowed"),
    (["model.optimizer.lr=-1"], "model.optimizer.lr=-1 is not allowed: expected a finite number >= 0.0"),
    (["model.optimizer.lr=nan"], "model.optimizer.lr=nan is not allowed"),
    (["model.optimizer.lr=inf"], "model.optimizer.lr=inf is not allowed"),
    (["model.optimizer.lr=abc"], "model.optimizer.lr='abc' is not allowed"),
    (["model.optimizer.lr=${nope}"], "model.optimizer.lr='${nope}' is not allowed: expected an interpolation that resolves"),
    (["+model.optimizer.weight_decay=-1"], "model.optimizer.weight_decay=-1 is not allowed"),
    (["+model.optimizer.betas=[2,3]"], "model.optimizer="),
    (["model.optimizer._target_=os.system"], "model.optimizer._target_='os.system' is not allowed: expected one of torch.optim.Adam"),
    (["model.embedding_dim=0", "data=art"], "model.embedding_dim=0 is not allowed: expected a positive integer"),
    (["model.embedding_init=ones", "data=art"], "model.embedding_init='ones' is not allowed: expected one of normal, zeros"),
    (["model.readout_hidden=[0]"], "model.readout_hidden[0]=0 is not allowed: expected a positive integer"),
    (["model.readout_hidden=abc"], "model.readout_hidden='abc' is not allowed: expected a list of positive integers"),
    (["model.readout_init=xavier"], "model.readout_init='xavier' is not allowed: expected one of he, torch"),
    (["model.side_input=maybe", "model/init=zero"], "model.side_input='maybe' is not allowed: expected true, false or always"),
    (["model.context_net.hidden_sizes=[-1]"], "model.context_net.hidden_sizes[0]=-1 is not allowed: expected a positive integer"),
    (["model.context_net.hidden_sizes=abc"], "model.context_net.hidden_sizes='abc' is not allowed: expected a list of positive integers"),
    (["model.context_net.distribution=uniform"], "model.context_net.distribution='uniform' is not allowed: expected one of deterministic, normal"),
    (["model.context_net.sigma_init=0"], "model.context_net.sigma_init=0 is not allowed: expected a finite number > 0"),
    (["model.context_net.sigma_init=nan"], "model.context_net.sigma_init=nan is not allowed"),
    (["preset.linear_init=xavier"], "preset.linear_init='xavier' is not allowed: expected one of he, torch"),
    (["model.init.activation=gelu"], "model.init.activation='gelu' is not allowed: expected one of relu, tanh"),
    (["model.init.init=xavier"], "model.init.init='xavier' is not allowed: expected one of he, torch"),
    (["model/init=free", "model.init.noise_std=-1"], "model.init.noise_std=-1 is not allowed: expected a finite number >= 0.0"),
    (["model.init._target_=builtins.eval"], "model.init._target_='builtins.eval' is not allowed: expected a registered InitialState"),
    (["model.cell._target_=os.system"], "model.cell._target_='os.system' is not allowed: expected a registered RecurrentCell"),
    (["model.cell.hidden_size=0"], "model.cell.hidden_size=0 is not allowed: expected a positive integer"),
    (["model.cell.hidden_size=abc"], "model.cell.hidden_size='abc' is not allowed: expected a positive integer"),
    (["model.cell.hidden_size=8.0"], "model.cell.hidden_size=8.0 is not allowed: expected a positive integer"),
    (["model.cell.num_layers=0"], "model.cell.num_layers=0 is not allowed"),
    (["model.cell.weight_init=orthogonal"], "model.cell.weight_init='orthogonal' is not allowed: expected one of glorot, torch"),
    (["model.cell.forget_bias=abc"], "model.cell.forget_bias='abc' is not allowed: expected a finite number"),
    (["+model.cell.dropout=0.1"], "model.cell.dropout=0.1 is not allowed: expected one of its options: hidden_size"),
    (["model/cell=rnn", "model.cell.nonlinearity=gelu"], "model.cell.nonlinearity='gelu' is not allowed: expected one of tanh, relu"),
    (["data=art", "model.cell.decay=2"], "model.cell.decay=2 is not allowed: expected a finite number in [0.0, 1.0]"),
    (["data=art", "model.cell.eta=nan"], "model.cell.eta=nan is not allowed"),
    (["data=art", "model.cell.update=latest"], "model.cell.update='latest' is not allowed: expected one of previous, preliminary"),
    (["data=art", "model.cell.inner_steps=0"], "model.cell.inner_steps=0 is not allowed"),
    (["data=art", "model.cell.weight_init=ones"], "model.cell.weight_init='ones' is not allowed: expected one of identity, uniform"),
    (["data=art", "model.cell.input_bias=ones"], "model.cell.input_bias='ones' is not allowed: expected one of glorot, zeros, torch"),
    (["data=art", "model.cell.implementation=compiled"], "model.cell.implementation='compiled' is not allowed: expected one of fast, reference"),
    (["data.batch_size=0"], "data.batch_size=0 is not allowed: expected a positive integer"),
    (["data.batch_size=-4"], "data.batch_size=-4 is not allowed"),
    (["data.batch_size=abc"], "data.batch_size='abc' is not allowed"),
    (["data.val_batch_size=0"], "data.val_batch_size=0 is not allowed"),
    (["data.val_seed=-1"], "data.val_seed=-1 is not allowed: expected an integer from 0 to 2**32 - 1"),
    (["data.train_seed=4294967296"], "data.train_seed=4294967296 is not allowed: expected an integer from 0 to 2**32 - 1"),
    (["seed=4294967296"], "seed=4294967296 is not allowed: expected an integer from 0 to 2**32 - 1"),
    (["seed=4294967295", "data.task.train_per_period=0"], "data.task.train_per_period=0 is not allowed"),  # the largest seed passes
    (["data.train_seed=abc"], "data.train_seed='abc' is not allowed"),
    (["data=art", "data.task.k=7"], "data.task.k=7 is not allowed: expected an even integer from 2 to 52"),
    (["data=art", "data.task.k=60"], "data.task.k=60 is not allowed"),
    (["data=art", "data.task.train_size=0"], "data.task.train_size=0 is not allowed: expected a positive integer"),
    (["data=art", "data.task.val_size=-1"], "data.task.val_size=-1 is not allowed"),
    (["data=art", "data.task.context=last_token"], "data.task.context='last_token' is not allowed: expected one of first_token, none"),
    (["data=art", "data.task.classes=letters"], "data.task.classes='letters' is not allowed: expected one of digits, vocabulary"),
    (["data.task.train_periods=5"], "data.task.train_periods=5 is not allowed: expected a non-empty list of periods >= 0"),
    (["data.task.train_periods=[]"], "data.task.train_periods=[] is not allowed"),
    (["data.task.train_periods=[-1]"], "data.task.train_periods[0]=-1 is not allowed: expected a period >= 0"),
    (["data.task.val_periods=[]"], "data.task.val_periods=[] is not allowed"),
    (["data.task.train_per_period=0"], "data.task.train_per_period=0 is not allowed"),
    (["data.task.steps=-1"], "data.task.steps=-1 is not allowed"),
    (["data.task.decay_steps=0"], "data.task.decay_steps=0 is not allowed: expected a finite number > 0"),
    (["data.task.x0_range=[4,2]"], "data.task.x0_range=[4, 2] is not allowed: expected [low, high], low < high"),
    (["data.task.x0_range=[1]"], "data.task.x0_range=[1] is not allowed"),
    (["data.task.alpha=nan"], "data.task.alpha=nan is not allowed"),
    (["data.task.context=[x0,phase]"], "data.task.context=['x0', 'phase'] is not allowed: expected a subset of"),
    (["data.task.context=[]"], "model/init='ContextualInit' is not allowed: expected an init without context"),
    (["ckpt_path=/nonexistent.ckpt"], "ckpt_path='/nonexistent.ckpt' is not allowed: expected a checkpoint of this run's model (is missing"),
    (["optimized_metric=val/accuracy"], "optimized_metric='val/accuracy' is not allowed: expected one of val/loss"),
    (["callbacks.resume_checkpoint.every_n_train_steps=0"], "callbacks.resume_checkpoint.every_n_train_steps=0 is not allowed"),
    (["callbacks.trajectory_figures.num_samples=0"], "callbacks.trajectory_figures.num_samples=0 is not allowed"),
    (["callbacks.trajectory_figures.every_n_epochs=0"], "callbacks.trajectory_figures.every_n_epochs=0 is not allowed"),
    (["data=art", "callbacks.validation_schedule.every=2"], "callbacks.validation_schedule.every=2 is not allowed"),
    (["data=art", "callbacks.milestones.thresholds=[]"], "callbacks.milestones.thresholds=[] is not allowed"),
    (["callbacks.best_checkpoint.mode=best"], "callbacks.best_checkpoint.mode='best' is not allowed: expected what pytorch_lightning.callbacks.ModelCheckpoint accepts: `mode` can be min, max"),
    (["~model.cell"], "model.cell=None is not allowed: expected a value: this option has no default"),
    (["~model.optimizer"], "model.optimizer=None is not allowed: expected a value: this option has no default"),
    (["~data.task"], "data.task=None is not allowed: expected a config node with a _target_"),
    (["~trainer"], "trainer._target_=None is not allowed: expected pytorch_lightning.Trainer"),
    (["trainer._target_=os.system"], "trainer._target_='os.system' is not allowed: expected pytorch_lightning.Trainer"),
    (["+trainer.precision=16"], "trainer.precision=16 is not allowed: expected 32-true (mixed precision: Lightning refuses it with gradient clipping)"),
    (["+trainer.precision=bf16-mixed"], "trainer.precision='bf16-mixed' is not allowed: expected 32-true"),
    (["+trainer.precision=64-true"], "trainer.precision='64-true' is not allowed: expected 32-true"),
    (["+trainer.precision=abc"], "trainer.precision='abc' is not allowed: expected 32-true"),
    (["+trainer.val_check_interval=1000"], "trainer.val_check_interval=1000 is not allowed: expected at most trainer.limit_train_batches=5"),
    (["+trainer.val_check_interval=1000", "trainer.limit_train_batches=null"], "trainer.val_check_interval=1000 is not allowed: expected at most 7 (the training batches of an epoch)"),
    (["+trainer.val_check_interval=1000", "trainer.limit_train_batches=0.5"], "trainer.val_check_interval=1000 is not allowed: expected at most 3 (the training batches of an epoch)"),
    (["trainer.limit_val_batches=0"], "trainer.limit_val_batches=0 is not allowed: expected batches > 0: validation logs optimized_metric='val/loss' (optimized_metric=null trains without validation)"),
    (["threads=1000"], f"threads=1000 is not allowed: expected a positive integer up to {4 * os.cpu_count()} (4 per core)"),
    (["model.cell.hidden_size=100000"], "model.cell.hidden_size=100000 is not allowed: expected a training state that fits in memory ("),
    (["data.task.train_per_period=1000000000"], "data.task='LCD' is not allowed: expected splits that fit in memory ("),
    (["data=art", "data.task.val_size=1000000000"], "data.task='ART' is not allowed: expected splits that fit in memory ("),
    (["data.task.train_periods={a:1}"], "data.task.train_periods={a:1} is not allowed: expected a list (Cannot merge DictConfig with ListConfig)"),
    (["+foo=1"], "foo=1 is not allowed: expected one of its options: name, seed, threads, ckpt_path, optimized_metric, matmul_precision, tags, model, data, preset, trainer, callbacks, logger, paths"),
    (["name=../../../tmp/x"], "name='../../../tmp/x' is not allowed: expected a folder name: no '/', not '.' or '..'"),
    (["name=.."], "name='..' is not allowed: expected a folder name"),
    (["data=art", "callbacks.milestones.thresholds=[2.0]"], "callbacks.milestones.thresholds=[2.0] is not allowed: expected a non-empty list of accuracies in [0, 1]"),
    (["data=art", "callbacks.milestones.thresholds=[-0.5]"], "callbacks.milestones.thresholds=[-0.5] is not allowed"),
    (["logger=wandb"], "logger.wandb.mode='' is not allowed: expected one of offline, online, disabled, dryrun (WANDB_MODE)", {"WANDB_MODE": ""}),
    (["logger=wandb"], "logger.wandb.mode='bogus' is not allowed: expected one of offline, online, disabled, dryrun (WANDB_MODE)", {"WANDB_MODE": "bogus"}),
    (["logger=wandb"], "logger.wandb.mode='online' is not allowed: expected a W&B server that answers (127.0.0.1:9: Connection refused; offline runs sync later)", {"WANDB_MODE": "online", "WANDB_BASE_URL": "http://127.0.0.1:9"}),
]  # fmt: skip


def with_tiny_sizes(overrides: list[str]) -> list[str]:
    """``overrides`` after the tiny sizes of their task (ART if they pick it) and, unless
    they pick a logger, ``logger=csv``."""
    sizes = TINY_ART if "data=art" in overrides else TINY_LCD
    logger = [] if any(o.startswith("logger=") for o in overrides) else ["logger=csv"]
    return ["debug=tiny", *logger, *sizes, *overrides]


def refusal(overrides: list[str], output_dir: Path) -> str:
    """The line ``python train.py <overrides>`` refuses them with, less ``error: ``."""
    try:
        cfg = compose_config(with_tiny_sizes(overrides), output_dir=output_dir)
    except (ConfigCompositionException, OverrideParseException) as error:
        return composition_error(error)
    with pytest.raises(ConfigError) as error:
        check_config(cfg)
    message = str(error.value)
    assert "\n" not in message, message
    return message


def train_path(overrides: list[str], output_dir: Path) -> None:
    """`python train.py <overrides>` in this process, in ``output_dir`` (unless the
    overrides name a run folder)."""
    folder = [] if any(o.startswith("hydra.") for o in overrides) else [output_dir]
    train_py_in_process([*with_tiny_sizes(overrides), *[f"hydra.run.dir={f}" for f in folder]])


@pytest.mark.parametrize(
    "overrides,message,environment",
    [(*case, {})[:3] for case in TRAIN_CASES],  # a third entry: environment variables
    ids=[
        " ".join(c[0]) + "".join(f" {k}={v}" for k, v in (c[2:] or [{}])[0].items())
        for c in TRAIN_CASES
    ],
)
def test_bad_training_input(overrides, message, environment, tmp_path, monkeypatch):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert refusal(overrides, tmp_path / "run").startswith(message)
    assert list(tmp_path.iterdir()) == []  # refused before anything is written


# Rows only the command refuses (Hydra's callback, before it creates the run or sweep
# folder): train.py in this process.
COMMAND_CASES = [
    (["hydra.run.dir="], "hydra.run.dir='' is not allowed: expected a folder of its own (not the working directory or one above it)"),
    (["hydra.run.dir=."], "hydra.run.dir='.' is not allowed: expected a folder of its own (not the working directory or one above it)"),
    (["hydra.output_subdir=../.."], "hydra.output_subdir='../..' is not allowed: expected a folder inside the run folder"),
    (["-m", "seed=0,1", "model/cell=lstm,lstn"], "model/cell=lstn is not an option; allowed: "),
    (["-m", "hparams_search=lcd_optuna", "hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is not allowed: expected a positive integer"),
    (["-m", "seed=0,1", "hydra.sweep.dir="], "hydra.sweep.dir='' is not allowed"),
    (["-m", "hparams_search=lcd_optuna", "model.optimizer.lr=interval(1,0)"], "model.optimizer.lr=interval(1,0) is not allowed: expected interval(low, high), low < high"),
]  # fmt: skip


@pytest.mark.parametrize(
    "overrides,message", COMMAND_CASES, ids=[" ".join(c[0]) for c in COMMAND_CASES]
)
def test_bad_input_the_command_refuses(overrides, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        train_path(overrides, tmp_path / "run")
    assert exit_info.value.code == 2
    assert one_line_error(capsys).startswith(message)
    assert list(tmp_path.iterdir()) == []  # no run or sweep folder


def test_a_file_where_the_run_folder_belongs(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    assert refusal([], blocker) == (
        f"run folder={str(blocker)!r} is not allowed: expected a folder: a file stands there"
    )
    assert blocker.read_text() == "a file"  # nothing already there is lost


@pytest.mark.parametrize("subfolder", ["checkpoints", "csv", "figures", "checkpoints/resume"])
def test_a_file_where_a_run_subfolder_belongs(tmp_path, subfolder):
    blocker = tmp_path / "run" / subfolder
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file")
    assert refusal([], tmp_path / "run") == (
        f"run folder={str(blocker)!r} is not allowed: expected a folder: a file stands there"
    )


def test_a_run_folder_on_a_read_only_file_system(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)  # as if EROFS
    with pytest.raises(SystemExit) as exit_info:
        train_path([], tmp_path / "run")
    assert exit_info.value.code == 4
    assert (
        one_line_error(capsys) == f"could not write {tmp_path / 'run'}: {tmp_path} is not writable"
    )
    assert not (tmp_path / "run").exists()


def test_a_run_folder_another_process_writes(tmp_path, capsys):
    run_dir = tmp_path / "run"
    with hold(run_dir), pytest.raises(SystemExit) as exit_info:  # as another process would
        train_path([], run_dir)
    assert exit_info.value.code == 2
    assert one_line_error(capsys) == f"{run_dir} is in use by another process (pid {os.getpid()})"
    assert not (run_dir / "checkpoints").exists()


def test_a_plain_pickle_is_refused_without_torchs_warning(tmp_path):
    (tmp_path / "plain.ckpt").write_bytes(pickle.dumps({"state_dict": {}}, protocol=4))
    with warnings.catch_warnings(record=True) as caught, pytest.raises(CheckpointError) as error:
        warnings.simplefilter("always")
        SequenceModule.load(tmp_path / "plain.ckpt")
    assert "holds more than tensors and plain values" in str(error.value)
    assert [str(w.message) for w in caught] == []


def test_a_torn_checkpoint_to_start_from(tmp_path):
    torn = tmp_path / "torn.ckpt"
    torn.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    assert refusal([f"ckpt_path={torn}"], tmp_path / "run").startswith(
        f"ckpt_path={str(torn)!r} is not allowed: expected a checkpoint of this run's model (is not a readable checkpoint"
    )


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "/full/disk/file")


@pytest.mark.parametrize(
    "target",
    [
        "lightning_fabric.plugins.io.torch_io.TorchCheckpointIO.save_checkpoint",
        "contextual_rnn.figures.FanFigure.save",
    ],
    ids=["checkpoint", "figure"],
)
def test_a_full_disk_stops_the_run_in_one_line_naming_the_last_good_checkpoint(
    tmp_path, capsys, monkeypatch, target
):
    overrides = ["callbacks.resume_checkpoint.every_n_train_steps=2"]
    cfg = compose_config(tiny_overrides("lcd", *overrides), output_dir=tmp_path)
    monkeypatch.setattr(target, full_disk)
    with pytest.raises(SystemExit) as exit_info:
        run(cfg)
    assert exit_info.value.code == 4
    message = one_line_error(capsys)
    assert message.startswith("could not write /full/disk/file: No space left on device")
    assert message.endswith("last good checkpoint: none yet") or "checkpoints/resume" in message


# --- loading a trained model and using it -----------------------------------------------------


@pytest.fixture
def runs(lcd_run, art_run) -> dict[str, Path]:
    return {"lcd": lcd_run, "art": art_run}


def unsafe_checkpoint(runs, folder: Path, node: dict, where: str = "init") -> Path:
    checkpoint = torch.load(find_checkpoint(runs["lcd"], "last"), weights_only=True)
    checkpoint["hyper_parameters"]["model"][where] = node
    path = folder / "unsafe.ckpt"
    torch.save(checkpoint, path)
    return path


def model_cases(runs, tmp_path) -> list[tuple]:
    """(a call, the exception it raises, part of its one-line message)."""
    lcd, art = runs["lcd"], runs["art"]
    written = tmp_path / "written_by_a_checkpoint.txt"
    savetxt = {"_target_": "numpy.savetxt", "fname": str(written), "X": [1.0]}
    init = torch.load(find_checkpoint(runs["lcd"], "last"), weights_only=True)
    init = init["hyper_parameters"]["model"]["init"]
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(find_checkpoint(runs["lcd"], "last").read_bytes()[:2000])
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    wrong_size = tmp_path / "wrong_size.ckpt"
    checkpoint = torch.load(find_checkpoint(runs["lcd"], "last"), weights_only=True)
    checkpoint["hyper_parameters"]["model"]["cell"]["hidden_size"] = 9
    torch.save(checkpoint, wrong_size)
    (tmp_path / "nested").mkdir()
    (tmp_path / "unknown").mkdir()
    (tmp_path / "builtin").mkdir()
    (tmp_path / "file_writer").mkdir()
    (tmp_path / "optimizer").mkdir()
    system = {"_target_": "os.system", "command": "true"}
    optimizer = unsafe_checkpoint(runs, tmp_path / "optimizer", system, "optimizer")
    last = find_checkpoint(runs["lcd"], "last")

    def altered(name: str, change) -> Path:
        checkpoint = torch.load(last, weights_only=True)
        change(checkpoint)
        torch.save(checkpoint, tmp_path / name)
        return tmp_path / name

    def set_nan(checkpoint):
        next(iter(checkpoint["state_dict"].values())).fill_(float("nan"))

    def hparams(where: str, key: str, value):
        return lambda checkpoint: checkpoint["hyper_parameters"][where].update({key: value})

    cell = torch.load(last, weights_only=True)["hyper_parameters"]["model"]["cell"]
    huge = altered("huge.ckpt", hparams("model", "cell", {**cell, "hidden_size": 10**9}))
    large = altered("large.ckpt", hparams("model", "cell", {**cell, "hidden_size": 10**5}))
    huge_split = altered("huge_split.ckpt", hparams("task", "val_per_period", 10**9))
    fitted_target = altered("fitted.ckpt", hparams("fitted", "_target_", "os.system"))
    data_target = altered("data.ckpt", hparams("data", "sampler", dict(system)))
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"state_dict": {}}))
    file_writer = unsafe_checkpoint(runs, tmp_path / "file_writer", {**init, "extra": savetxt})
    nested = unsafe_checkpoint(runs, tmp_path / "nested", savetxt)
    unknown = unsafe_checkpoint(runs, tmp_path / "unknown", {**init, "_target_": "my.Unknown"})
    builtin = unsafe_checkpoint(runs, tmp_path / "builtin", {**init, "_target_": "builtins.exec"})
    load, refused = SequenceModule.load, CheckpointError
    model = SequenceModule.load(lcd)
    answer = SequenceClassifier.load(art).answer
    return [
        (partial(load, altered("nan.ckpt", set_nan)), refused, "refused: its weight "),
        (partial(load, huge), refused, "its stored config does not match its weights (Storage size"),
        (partial(load, large), refused, "its stored config does not match its weights (net.cell."),
        (lambda: load(huge_split).datamodule(), refused, "its data config cannot be rebuilt: task="),
        (partial(load, fitted_target), refused, "refused: fitted._target_='os.system' is not allowed: expected a plain value"),
        (partial(load, data_target), refused, "refused: data.sampler._target_='os.system' is not allowed"),
        (partial(load, tmp_path / "plain.pkl"), refused, "holds more than tensors and plain values: not loaded"),
        (partial(load, tmp_path / "missing.ckpt"), refused, "no checkpoint or run folder at"),
        (partial(load, truncated), refused, "is not a readable checkpoint (truncated or corrupt"),
        (partial(load, foreign), refused, "is not a Lightning checkpoint"),
        (partial(load, wrong_size), refused, "its stored config does not match its weights"),
        (partial(load, file_writer), refused, "refused: model.init.extra._target_='numpy.savetxt' is not allowed: expected a plain value"),
        (partial(load, nested), refused, "refused: model.init._target_='numpy.savetxt' is not allowed: expected a registered InitialState"),
        (partial(load, unknown), refused, "refused: model.init._target_='my.Unknown' is not allowed"),
        (partial(load, builtin), refused, "refused: model.init._target_='builtins.exec' is not allowed"),
        (partial(load, optimizer), refused, "refused: model.optimizer._target_='os.system' is not allowed"),
        (partial(load, lcd, "worst"), refused, "which='worst': expected 'best' or 'last'"),
        (partial(SequenceRegressor.load, art), refused, "trained on ART, a classification task; this needs a regression model"),
        (partial(SequenceClassifier.load, lcd), refused, "trained on LCD, a regression task; this needs a classification"),
        (partial(model.datamodule, test_size=10**8), ConfigError, "expected splits that fit in memory ("),
        (partial(model.datamodule, test_size=0), ConfigError, "task.val_per_period=0 is not allowed: expected a positive integer"),
        (partial(model.datamodule, test_size=-5), ConfigError, "task.val_per_period=-5 is not allowed"),
        (partial(model.datamodule, test_seed=-1), ConfigError, "val_seed=-1 is not allowed"),
        (partial(answer, "c9k8j3f1?c"), InputError, "'c9k8j3f1?c' has 10 characters; this model (k=8) needs 11"),
        (partial(answer, "c9k8j3f1??C"), InputError, "'c9k8j3f1??C': characters ['C'] are not lowercase letters"),
        (partial(answer, "c9k8j3ff??c"), InputError, "positions 2, 4, ... of the pairs must be digits"),
        (partial(answer, "c9c8j3f1??c"), InputError, "the letters of the pairs must be distinct"),
        (partial(answer, "c9k8j3f1?1c"), InputError, "expected '??' after the pairs"),
        (partial(answer, "c9k8j3f1??x"), InputError, "'c9k8j3f1??x': the query 'x' is not one of the keys 'ckjf'"),
    ]  # fmt: skip


MODEL_CASES = 29  # rows of model_cases: asserted below, so a new row is counted


def test_bad_model_inputs(runs, tmp_path):
    cases = model_cases(runs, tmp_path)
    assert len(cases) == MODEL_CASES
    for call, expected, message in cases:
        with pytest.raises(expected) as error:
            call()
        assert message in str(error.value) and "\n" not in str(error.value), error.value
    assert not (tmp_path / "written_by_a_checkpoint.txt").exists()  # nothing ran


def test_the_table_has_at_least_80_rows():
    assert len(TRAIN_CASES) + len(COMMAND_CASES) + MODEL_CASES + 4 + 1 + 1 + 2 >= 80


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["seed=abc"], "error: seed='abc' is not allowed"),  # a config value
        (["model/cell=lstn"], "error: model/cell=lstn is not an option"),  # a group option
        (["-m", "seed=0,1", "model/cell=lstm,lstn"], "error: model/cell=lstn is not an option"),
    ],
    ids=["value", "group option", "sweep"],
)
def test_the_table_holds_through_the_command_line(overrides, message, tmp_path):
    result = train_command(*overrides, "debug=tiny", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "outputs").exists()  # no run or sweep folder


@pytest.mark.slow
def test_an_optuna_interval_is_sampled(tmp_path):
    """A space only Optuna can sample (no grid to enumerate) is valid input."""
    result = train_command(
        "-m", "hparams_search=lcd_optuna", "hydra.sweeper.n_trials=1", "debug=tiny",
        "logger=csv", "model.optimizer.lr=tag(log,interval(1e-4,1e-2))", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(tmp_path.glob("outputs/*/multiruns/*/summary.md"))


def test_a_checkpoint_with_no_epochs_left_to_start_from(lcd_run, tmp_path):
    finished = lcd_run / "checkpoints" / "last.ckpt"  # its run trained its 2 epochs
    assert refusal([f"ckpt_path={finished}", "trainer.max_epochs=2"], tmp_path / "run") == (
        f"ckpt_path={str(finished)!r} is not allowed: expected a checkpoint with epochs "
        "left to train: it has trained 2 of trainer.max_epochs=2 (ask for more epochs to "
        "continue from it)"
    )
    assert not (tmp_path / "run").exists()  # refused before the run folder
