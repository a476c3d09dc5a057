"""train(cfg): compose data, model, callbacks, loggers and trainer from a Hydra config and fit.

``train.py`` at the repository root is the command-line entry (``run``); tests call
``train`` directly with a config composed by Hydra's compose API.

A run folder that already holds a resume checkpoint continues from it; a finished run
(``status.json``) is left as it is, unless the config asks for more epochs than it
trained, which continues it.
"""

import errno
import json
import logging
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from contextual_rnn.core.errors import ConfigError, config_scope
from contextual_rnn.core.modules import SequenceModule, module_for
from contextual_rnn.core.registry import build
from contextual_rnn.core.tasks.base import SequenceTask
from contextual_rnn.training import ensemble
from contextual_rnn.training.callbacks.non_finite import NonFiniteLoss
from contextual_rnn.training.callbacks.resume_checkpoint import (
    ResumeCheckpoint,
    hold,
    newest,
    resume_point,
    same_config,
)
from contextual_rnn.training.callbacks.run_status import finished_status, read_status, write_status
from contextual_rnn.training.checks import check_config, plain_values
from contextual_rnn.training.distributed import DestroyProcessGroup, ShardedData
from contextual_rnn.training.job_exit import exit_with
from contextual_rnn.training.loggers import (
    finish_wandb,
    start_loggers,
    update_summary,
    wandb_resume,
)
from contextual_rnn.training.resolvers import idle_cores, usable_cores
from contextual_rnn.training.sweep_summary import METRICS, save_metrics
from contextual_rnn.training.verbosity import quiet_libraries

log = logging.getLogger(__name__)

# Exit codes of a run (docs: README, "Long runs").
BAD_CONFIG, NON_FINITE, CANNOT_WRITE, INTERRUPTED = 2, 3, 4, 130
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR)


class Interrupted(RuntimeError):
    """Training stopped by Ctrl-C (Lightning shuts down and exits with 1; we say so)."""


def container(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def concurrent_jobs() -> int:
    """How many jobs of this multirun run at once (1 outside a parallel multirun)."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return 1
    launcher = HydraConfig.get().launcher
    jobs = launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")).lower() else 1
    return usable_cores() if jobs is None or jobs < 1 else jobs


def auto_threads() -> int:
    """The cores, shared between the jobs a parallel multirun runs at once, and no more than
    sit idle as the run starts (measured only where that could be more than one). A thread
    more than a free core costs far more than it gives: each parallel operation waits for
    every thread, and one whose core other work holds keeps the rest waiting
    (docs/performance.md: an LSTM step on a busy 2-core machine took 95-635 ms with two
    threads, 14 ms with one)."""
    share = usable_cores() // concurrent_jobs()
    return max(1, min(share, round(idle_cores()))) if share > 1 else 1


def configure_threads(setting) -> int:
    """``threads``: a number as given, or ``auto`` (``auto_threads``)."""
    threads = auto_threads() if setting == "auto" else setting
    torch.set_num_threads(threads)
    return threads


def build_datamodule(cfg: DictConfig) -> ShardedData:
    data = container(cfg.data)
    task = build(data.pop("task"), SequenceTask, "data.task", trusted=True)
    with config_scope("data"):
        datamodule = ShardedData(task=task, **data)  # its DDP loaders: distributed.py
    datamodule.setup("fit")
    return datamodule


def build_module(cfg: DictConfig, datamodule: ShardedData) -> SequenceModule:
    """The module for the task's kind; it keeps the configs so a checkpoint can rebuild it."""
    data = container(cfg.data)
    task = data.pop("task")
    module_class = module_for(type(datamodule.task))
    fitted = datamodule.task.fitted()
    return module_class(container(cfg.model), task, fitted, data, trusted=True)


def instantiate_nodes(nodes, prefix: str) -> list:
    """Hydra's instantiate for each node; a bad option is one ConfigError naming its key.
    A W&B logger continues the W&B run its folder holds (``loggers.wandb_resume``)."""
    built = []
    for name, node in (nodes or {}).items():
        if node:
            key = f"{prefix}.{name}"
            try:
                with config_scope(key):
                    built.append(instantiate(node, **wandb_resume(node)))
            except InstantiationException as error:
                raise instantiation_error(key, error) from None
    return built


def instantiation_error(key: str, error: InstantiationException) -> Exception:
    """The ConfigError behind Hydra's InstantiationException, or one made from its message."""
    cause = error.__cause__
    if isinstance(cause, ConfigError):
        return cause.under(key)
    if isinstance(cause, ValueError | TypeError | MisconfigurationException):
        return ConfigError(key, "...", f"settings it accepts: {' '.join(str(cause).split())}")
    return error


def build_trainer(cfg: DictConfig) -> pl.Trainer:
    """Callbacks, loggers and Trainer from config (the loggers continue a run's folder)."""
    callbacks = instantiate_nodes(cfg.get("callbacks"), "callbacks")
    callbacks.append(DestroyProcessGroup())  # multi-process runs only; see distributed.py
    loggers = instantiate_nodes(cfg.get("logger"), "logger")
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    except MisconfigurationException as error:
        message = " ".join(str(error).split())
        raise ConfigError("trainer", "...", f"settings Lightning accepts: {message}") from None


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
    check_config(cfg)
    start_from = Path(cfg.ckpt_path) if cfg.get("ckpt_path") else None
    output_dir = Path(cfg.paths.output_dir)
    values = plain_values(cfg)  # the run's config as the run folder and the loggers keep it
    same_config(output_dir, values)  # a run folder is one run (resume_checkpoint)
    if finished(read_status(output_dir), cfg):
        log.info(f"{output_dir} holds a finished run: nothing to do (its metrics are kept)")
        kept = output_dir / METRICS
        return json.loads(kept.read_text()) if kept.is_file() else {}
    configure_threads(cfg.threads)
    # how float32 matrix products run on a GPU (not a Trainer argument)
    torch.set_float32_matmul_precision(cfg.get("matmul_precision", "highest"))
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
    module.ensemble = ensemble.current()  # one member of a vectorised ensemble, or None
    resume_from = start_from or resume_point(output_dir / "checkpoints" / "resume")
    if resume_from:
        log.info(f"resuming from {resume_from}")
    trainer = build_trainer(cfg)
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
