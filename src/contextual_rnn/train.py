"""Train a contextual RNN: ``python train.py [overrides] [-m sweep]`` (also ``python -m
contextual_rnn.train`` and ``contextual-rnn-train``).

A run is built from its config in one place, ``build_run``: the datamodule, the module,
the callbacks, the loggers and the Trainer, each by its class (typed signatures, Lightning's
own checks). Before Hydra creates or writes a run folder, ``ConfigCheck`` (a Hydra
callback) and the sweeper (every job of a grid) build it on torch's meta device, where
nothing is allocated or written, and check what the run asks of this machine; a bad input
ends the command there in one line, exit code 2. ``train`` then builds it for real and
fits. A run folder that holds a resume checkpoint continues from it; a finished run is left
as it is, unless the config asks for more epochs than it trained.

Exit codes, decided in ``run``: 2 bad configuration or input (nothing trained), 3 a
non-finite training loss, 4 a file that cannot be written, 130 interrupted (Ctrl-C); the
last good checkpoint is named in the last three. In a multirun a failed job fails alone
(the others run on) and the command exits 1; Ctrl-C stops the whole multirun."""

import errno
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import filter_overrides
from hydra.errors import InstantiationException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from contextual_rnn.callbacks import NonFiniteLoss
from contextual_rnn.checkpoints import (
    CheckpointError,
    check_weights,
    read_checkpoint,
    trained_epochs,
)
from contextual_rnn.config import (
    CONFIG_PACKAGE,
    TRAINER,
    RunOptions,
    TrainerArguments,
    bad_swept_choice,
    check_inside,
    check_run_folder,
    check_schedule,
    check_wandb,
    flags_first,
    hydra_errors_in_one_line,
    refuse,
    refuse_unwritable,
    typed_key,
)
from contextual_rnn.errors import (
    ConfigError,
    check_memory,
    config_scope,
    meta_splits,
    one_line,
    split_bytes,
    validate,
)
from contextual_rnn.loggers import (
    finish_wandb,
    quiet_libraries,
    start_loggers,
    update_summary,
    wandb_resume,
)
from contextual_rnn.module import module_for
from contextual_rnn.registry import build
from contextual_rnn.resume import (
    ResumeCheckpoint,
    config_changes,
    finished_status,
    hold,
    in_use,
    newest,
    read_status,
    resume_point,
    same_config,
    write_status,
)
from contextual_rnn.sweeps import METRICS, save_metrics
from contextual_rnn.tasks.base import SequenceTask
from contextual_rnn.tasks.data import SequenceDataModule

log = logging.getLogger(__name__)


# Exit codes of a run (docs: README, "Long runs").
BAD_CONFIG, NON_FINITE, CANNOT_WRITE, INTERRUPTED = 2, 3, 4, 130


WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR)


class JobFailed(RuntimeError):
    """A multirun job that a single run would end with ``sys.exit(code)``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def exit_with(code: int, message: str) -> NoReturn:
    """Print the one-line error; exit with ``code``, or in a multirun fail this job only."""
    print(message, file=sys.stderr)
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise JobFailed(code, message)
    sys.exit(code)


class Interrupted(RuntimeError):
    """Training stopped by Ctrl-C (Lightning shuts down and exits with 1; we say so)."""


def container(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def plain_values(cfg: DictConfig) -> dict:
    """The run's config, Hydra's own node left out, as plain values; an interpolation
    that does not resolve is a ConfigError."""
    try:
        run = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        return OmegaConf.to_container(run, resolve=True)
    except OmegaConfBaseException as error:
        where = getattr(error, "full_key", None) or "config"
        reason = str(error).splitlines()[0]
        raw = OmegaConf.select(cfg, where, throw_on_resolution_failure=False)
        if raw is None and where != "config":  # the interpolation itself, as the user typed it
            parent, _, leaf = where.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            raw = OmegaConf.to_container(node, resolve=False).get(leaf) if node else None
        raise ConfigError(where, raw, f"an interpolation that resolves ({reason})") from None


def build_run(cfg: DictConfig, meta: bool = False):
    """The run's datamodule, module and Trainer (with its callbacks and loggers), each
    built by its class from the config: the classes' typed signatures and Lightning's own
    checks refuse a bad value here, as a ConfigError naming its key. ``meta=True`` builds
    the model on torch's meta device and generates no data: the check before a run
    (``check_config``), which allocates nothing and writes nothing."""
    data = container(cfg.data)
    task_config = data.pop("task", None)
    task = build(task_config, SequenceTask, "data.task", trusted=True)
    with config_scope("data"):
        datamodule = SequenceDataModule(task=task, **data)
    if not meta:
        datamodule.setup("fit")
    with torch.device("meta" if meta else "cpu"):
        module_class = module_for(type(task))
        fitted = None if meta else task.fitted()
        module = module_class(container(cfg.model), task_config, fitted, data, trusted=True)
    return datamodule, module, build_trainer(cfg)


def build_trainer(cfg: DictConfig) -> pl.Trainer:
    callbacks = instantiate_nodes(cfg.get("callbacks"), "callbacks")
    loggers = instantiate_nodes(cfg.get("logger"), "logger")
    return instantiate_node(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)


def instantiate_nodes(nodes, prefix: str) -> list:
    # a W&B logger continues the W&B run its folder holds (loggers.wandb_resume), once its
    # folder is known writable (checked without making anything)
    return [
        instantiate_node(n, f"{prefix}.{name}", **wandb_resume(n))
        for name, n in (nodes or {}).items()
        if n
    ]


def instantiate_node(node, key: str, **given):
    """Hydra's instantiate; what the class refuses is one ConfigError naming its key."""
    try:
        with config_scope(key):
            return instantiate(node, **given)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ConfigError):
            raise cause.under(key) from None
        if isinstance(cause, ValueError | TypeError | MisconfigurationException):
            raise refusal(key, container(node), cause) from None
        raise


def refusal(key: str, node: dict, error: Exception) -> ConfigError:
    """A library class's refusal under the key it concerns: an unknown argument by its
    name, otherwise the first of the node's options its message names."""
    message = " ".join(str(error).split())
    target = node.get("_target_", key)
    unknown = re.search(r"unexpected keyword argument '(\w+)'", message)
    if unknown:
        name = unknown.group(1)
        return ConfigError(f"{key}.{name}", node.get(name), f"an argument of {target}")
    for name, value in node.items():
        if not name.startswith("_") and re.search(rf"\b{re.escape(name)}\b", message):
            return ConfigError(f"{key}.{name}", value, f"what {target} accepts: {message}")
    return ConfigError(key, "...", f"settings {target} accepts: {message}")


def finished(status: dict, cfg: DictConfig) -> bool:
    """A finished run stays finished unless the config asks for more epochs than it trained."""
    if status.get("status") != "finished":
        return False
    wanted = cfg.trainer.get("max_epochs")
    trained = status.get("max_epochs")
    return (
        bool(status.get("stopped_early")) or wanted is None or trained is None or wanted <= trained
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit one model; returns the final callback metrics as floats."""
    start_from = Path(cfg.ckpt_path) if cfg.get("ckpt_path") else None
    output_dir = Path(cfg.paths.output_dir)
    values = plain_values(cfg)  # the run's config as the run folder and the loggers keep it
    same_config(output_dir, values)  # a run folder is one run (resume_checkpoint)
    if finished(read_status(output_dir), cfg):
        log.info(f"{output_dir} holds a finished run: nothing to do (its metrics are kept)")
        kept = output_dir / METRICS
        return json.loads(kept.read_text()) if kept.is_file() else {}
    torch.set_num_threads(cfg.threads)
    # how float32 matrix products run on a GPU (not a Trainer argument)
    torch.set_float32_matmul_precision(cfg.get("matmul_precision", "highest"))
    pl.seed_everything(cfg.seed, workers=True)
    resume_from = start_from or resume_point(output_dir / "checkpoints" / "resume")
    if resume_from:
        log.info(f"resuming from {resume_from}")
    datamodule, module, trainer = build_run(cfg)
    start_loggers(trainer)
    fitted = False
    try:
        for logger in trainer.loggers:
            logger.log_hyperparams(values)
        # weights_only=True whatever torch's default: a checkpoint holds tensors and values only
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
        fitted = True
    except SystemExit:
        if trainer.interrupted:
            raise Interrupted("training interrupted") from None
        raise
    finally:
        if fitted:
            update_summary(trainer, {"status": "finished", "status_reason": ""})
        finish_wandb(trainer, exit_code=0 if fitted else 1)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    resume = next((c for c in trainer.callbacks if isinstance(c, ResumeCheckpoint)), None)
    if not metrics and resume is not None and resume.final_metrics:
        metrics = resume.final_metrics  # resumed a run whose training had already ended
    save_metrics(output_dir, metrics)
    if trainer.is_global_zero:
        write_status(output_dir, finished_status(trainer))
    report(cfg, trainer, metrics)
    return metrics


def report(cfg: DictConfig, trainer: pl.Trainer, metrics: dict[str, float]) -> None:
    """Say where the run's artefacts are."""
    out = Path(cfg.paths.output_dir)
    lines = [f"run folder: {out}"]
    lines += [f"  {k} = {v:.6g}" for k, v in sorted(metrics.items()) if k.startswith("val/")]
    if trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path:
        lines.append(f"best checkpoint: {trainer.checkpoint_callback.best_model_path}")
    figures = sorted((out / "figures").glob("*.png"))
    if figures:
        lines.append(f"figures: {out / 'figures'} ({len(figures)} PNG)")
    runs = sorted(out.glob("wandb/*run-*"))
    if runs:
        lines.append(f"W&B run: {runs[-1]}  (upload later with: wandb sync {runs[-1]})")
    log.info("\n".join(lines))


def last_good(cfg: DictConfig) -> str:
    kept = newest(Path(cfg.paths.output_dir) / "checkpoints" / "resume")
    return str(kept) if kept else "none yet"


def run(cfg: DictConfig) -> float | None:
    """The Hydra task: train, report failures in one line, return the swept metric.

    Exit codes: 2 bad configuration (nothing trained), 3 a non-finite loss, 4 a file
    could not be written (disk full, permissions), 130 interrupted; the last good
    checkpoint is named and kept in the last three cases.
    """
    if not (HydraConfig.initialized() and HydraConfig.get().verbose):
        quiet_libraries()
    try:
        with hold(cfg.paths.output_dir):  # one process at a time (resume_checkpoint)
            metrics = train(cfg)
    except ConfigError as error:
        exit_with(BAD_CONFIG, f"error: {error}")  # in a multirun: this job fails, the sweep goes on
    except NonFiniteLoss as error:
        exit_with(NON_FINITE, f"error: {error}; last good checkpoint: {last_good(cfg)}")
    except OSError as error:
        if error.errno not in WRITE_ERRORS:
            raise
        where = error.filename or "a file"
        kept = last_good(cfg)
        exit_with(
            CANNOT_WRITE,
            f"error: could not write {where}: {error.strerror}; last good checkpoint: {kept}",
        )
    except (Interrupted, KeyboardInterrupt):  # in training, or before or after it
        again = f"hydra.run.dir={cfg.paths.output_dir}"
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            again = f"hydra.sweep.dir={HydraConfig.get().sweep.dir}"  # continues every job
        print(
            f"error: interrupted; last good checkpoint: {last_good(cfg)} "
            f"(resume: the same command with {again})",
            file=sys.stderr,
        )
        sys.exit(INTERRUPTED)  # unlike a failed job, Ctrl-C stops a whole multirun
    name = cfg.get("optimized_metric")
    if name and name not in metrics:
        exit_with(BAD_CONFIG, f"error: optimized_metric={name!r} was never logged by this run")
    return metrics.get(name) if name else None


def check_start(path: str, module, max_epochs) -> None:
    """A ``ckpt_path`` to start from, checked as ``SequenceModule.load`` checks one (its
    weights against the run's model, built on the meta device) and with epochs left to
    train: from one whose run already trained ``max_epochs`` the run would train nothing."""
    try:
        checkpoint = read_checkpoint(Path(path))
        check_weights(Path(path), module, checkpoint["state_dict"])
    except CheckpointError as error:
        reason = str(error).removeprefix(f"{path}").removeprefix(":").strip()
        words = f"a checkpoint of this run's model ({reason})"
        raise ConfigError("ckpt_path", path, words) from None
    done = trained_epochs(checkpoint)
    if done is not None and max_epochs not in (None, -1) and done >= max_epochs:
        raise ConfigError(
            "ckpt_path",
            path,
            f"a checkpoint with epochs left to train: it has trained {done} of "
            f"trainer.max_epochs={max_epochs} (ask for more epochs to continue from it)",
        )


def check_values(cfg: DictConfig) -> None:
    values = plain_values(cfg)
    run = validate(RunOptions, values)
    trainer = values.get("trainer")
    if not isinstance(trainer, dict) or trainer.get("_target_") != TRAINER:
        target = trainer.get("_target_") if isinstance(trainer, dict) else trainer
        raise ConfigError("trainer._target_", target, f"{TRAINER} (the trainer group's)")
    validate(TrainerArguments, trainer, "trainer")
    datamodule, module, _ = build_run(cfg, meta=True)
    if run.ckpt_path is not None:
        check_start(run.ckpt_path, module, trainer.get("max_epochs"))
    splits = meta_splits(datamodule.task)
    task = type(datamodule.task).__name__
    check_memory("data.task", task, split_bytes(splits), "splits that fit")
    needed = 16 * sum(p.numel() for p in module.parameters())  # weights, gradients, Adam's two
    hidden_size = values["model"]["cell"].get("hidden_size")
    check_memory("model.cell.hidden_size", hidden_size, needed, "a training state that fits")
    check_schedule(trainer, run.optimized_metric, splits, datamodule.batch_size)
    logged = type(module).logged_metrics
    if run.optimized_metric is not None and run.optimized_metric not in logged:
        raise ConfigError("optimized_metric", run.optimized_metric, "one of " + ", ".join(logged))
    for name, node in (values.get("logger") or {}).items():
        if node and str(node.get("_target_")).endswith("WandbLogger"):
            check_wandb(node, f"logger.{name}")
    check_run_folder(values["paths"]["output_dir"])
    check_inside(values, values["paths"]["output_dir"])


def check_config(cfg: DictConfig) -> None:
    """Every option of a run checked; a ConfigError names the key the user set."""
    try:
        check_values(cfg)
    except ConfigError as error:
        raise ConfigError(typed_key(cfg, error.key), error.value, error.allowed) from None


def check_job(config: DictConfig, folder: str, prefix: str = "") -> None:
    """``check_config`` of a job as ``run_job`` will run it in ``folder`` (its
    ``runtime.output_dir`` and Hydra's config set as there): a bad value ends the command
    in one line, ``prefix`` first, with exit code 2."""
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = os.path.abspath(folder)
    HydraConfig.instance().set_config(config)
    if not config.hydra.verbose:
        quiet_libraries()  # the Trainer built on meta would say which devices it found
    try:
        check_config(config)
        in_use(folder)  # before Hydra writes .hydra/ into an existing run folder
        config_changes(folder, plain_values(config))
    except ConfigError as error:
        refuse(f"{prefix}{error}")
    except OSError as error:  # a folder the run would write (W&B's) that cannot be
        refuse(f"{prefix}could not write {error.filename}: {error.strerror}", CANNOT_WRITE)


def job_config(loader, config: DictConfig, idx: int, overrides: Sequence[str]) -> DictConfig:
    """Job number ``idx`` of a multirun composed as its launcher composes it."""
    job = loader.load_sweep_config(config, list(overrides))
    with open_dict(job):
        job.hydra.job.id = job.hydra.job.num = idx
    return job


def check_jobs(loader, config: DictConfig, batch: Sequence[Sequence[str]], first: int) -> None:
    """``check_job`` of each job of a multirun's batch, numbered from ``first``, in its own
    folder; the first bad one ends the command naming the job and its overrides."""
    previous = HydraConfig.instance().cfg
    for idx, overrides in enumerate(batch, start=first):
        job = job_config(loader, config, idx, overrides)
        HydraConfig.instance().set_config(job)  # for a ${hydra:...} in the job's folder name
        folder = os.path.join(str(job.hydra.sweep.dir), str(job.hydra.sweep.subdir))
        check_job(job, folder, f"job #{idx} ({' '.join(filter_overrides(overrides))}): ")
    HydraConfig.instance().cfg = previous


class ConfigCheck(Callback):
    """Checks the config Hydra composed before Hydra creates the run or sweep folder."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            self.check_run(config)
        except Exception as error:  # noqa: BLE001 - Hydra would warn and run the job anyway
            refuse(f"the config could not be checked: {one_line(error)}")

    def check_run(self, config: DictConfig) -> None:
        HydraConfig.instance().set_config(config)  # for the ${hydra:...} in the folder's name
        folder = Path(str(config.hydra.run.dir)).resolve()
        if not str(config.hydra.run.dir).strip() or Path.cwd().is_relative_to(folder):
            value = str(config.hydra.run.dir)
            refuse(
                f"hydra.run.dir={value!r} is not allowed: expected a folder of its own "
                "(not the working directory or one above it)"
            )
        subdir = config.hydra.output_subdir
        if subdir is not None and not (folder / str(subdir)).resolve().is_relative_to(folder):
            refuse(
                f"hydra.output_subdir={subdir!r} is not allowed: expected a folder inside "
                "the run folder"
            )
        check_job(config, config.hydra.run.dir)
        refuse_unwritable(config.hydra.runtime.output_dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            self.check_sweep(config)
        except Exception as error:  # noqa: BLE001 - Hydra would warn and run the jobs anyway
            refuse(f"the sweep could not be checked: {one_line(error)}")

    def check_sweep(self, config: DictConfig) -> None:
        trials = config.hydra.sweeper.get("n_trials", 1)
        try:
            if not str(config.hydra.sweep.dir).strip():
                raise ConfigError("hydra.sweep.dir", "", "a folder (not the working directory)")
            check_run_folder(config.hydra.sweep.dir, "hydra.sweep.dir")
            if type(trials) is not int or trials < 1:
                raise ConfigError("hydra.sweeper.n_trials", trials, "a positive integer")
        except ConfigError as error:
            refuse(str(error))
        refuse_unwritable(config.hydra.sweep.dir)
        if problem := bad_swept_choice(config):
            refuse(problem)


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_PACKAGE}", config_name="train")
def main(cfg):
    return run(cfg)


def command(argv: list[str] | None = None) -> None:
    """The command with ``argv`` (default: this process's); a bad input ends it in one line
    with exit code 2."""
    argv = sys.argv[1:] if argv is None else argv
    # A W&B service inherited from a parent process (a notebook, a test runner) would hold
    # this run's id after a kill and refuse the resumed run: every run starts its own.
    os.environ.pop("WANDB_SERVICE", None)
    with hydra_errors_in_one_line():
        sys.argv[1:] = flags_first(argv)
        try:
            main()
        except KeyboardInterrupt:  # a multirun's Ctrl-C (its jobs have said where they stopped)
            print("error: interrupted; the same command continues it", file=sys.stderr)
            sys.exit(130)


if __name__ == "__main__":
    command()
