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
import re
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
from omegaconf.errors import OmegaConfBaseException

from contextual_rnn.core.data import SequenceDataModule
from contextual_rnn.core.errors import ConfigError, config_scope
from contextual_rnn.core.modules import module_for
from contextual_rnn.core.registry import build
from contextual_rnn.core.tasks.base import SequenceTask
from contextual_rnn.training.callbacks.non_finite import NonFiniteLoss
from contextual_rnn.training.callbacks.resume_checkpoint import (
    ResumeCheckpoint,
    hold,
    newest,
    resume_point,
    same_config,
)
from contextual_rnn.training.callbacks.run_status import finished_status, read_status, write_status
from contextual_rnn.training.job_exit import exit_with
from contextual_rnn.training.loggers import (
    finish_wandb,
    start_loggers,
    update_summary,
    wandb_resume,
)
from contextual_rnn.training.sweeps import METRICS, save_metrics
from contextual_rnn.training.verbosity import quiet_libraries

log = logging.getLogger(__name__)

# Exit codes of a run (docs: README, "Long runs").
BAD_CONFIG, NON_FINITE, CANNOT_WRITE, INTERRUPTED = 2, 3, 4, 130
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR)


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
    (``training.checks``), which allocates nothing and writes nothing."""
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
    # a W&B logger continues the W&B run its folder holds (loggers.wandb_resume)
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
