"""train(cfg): compose data, model, callbacks, loggers and trainer from a Hydra config and fit.

``train.py`` at the repository root is the command-line entry; tests call
``train`` directly with a config composed by Hydra's compose API.
"""

import logging
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from contextual_rnn.callbacks.non_finite import NonFiniteLoss
from contextual_rnn.data.datamodule import SequenceDataModule
from contextual_rnn.distributed import DestroyProcessGroup, ShardedData
from contextual_rnn.errors import ConfigError, config_scope
from contextual_rnn.modules import MODULES
from contextual_rnn.resume import existing_wandb_id, latest_checkpoint
from contextual_rnn.sweeps import exit_with, save_metrics

log = logging.getLogger(__name__)


def build_datamodule(cfg: DictConfig) -> SequenceDataModule:
    with config_scope("data.task"):
        task = instantiate(cfg.data.task)
    options = {
        k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items() if k != "task"
    }
    with config_scope("data"):
        datamodule = ShardedData(task, **options)  # its own loaders under DDP: distributed.py
    datamodule.setup("fit")
    return datamodule


def build_module(cfg: DictConfig, datamodule: SequenceDataModule) -> pl.LightningModule:
    """The module for the task's kind; it keeps the data config so a checkpoint can rebuild it."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    data = OmegaConf.to_container(cfg.data, resolve=True)
    return MODULES[datamodule.spec.kind](model=model, spec=datamodule.spec.to_dict(), data=data)


def build_trainer(cfg: DictConfig, resume_from: Path | None = None) -> pl.Trainer:
    """Callbacks, loggers and Trainer from config; loggers continue the run being resumed."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    callbacks.append(DestroyProcessGroup())  # multi-process runs only; see distributed.py
    continuing = {}
    if resume_from:
        step = torch.load(resume_from, map_location="cpu", weights_only=True)["global_step"]
        continuing = {
            "wandb": {"id": existing_wandb_id(cfg.paths.output_dir)},
            "csv": {"resume_step": step},
        }
    loggers = [
        instantiate(lg, **continuing.get(name, {}))
        for name, lg in (cfg.get("logger") or {}).items()
        if lg
    ]
    with config_scope("trainer"):
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def plain_config(cfg: DictConfig) -> dict:
    """The resolved run config as primitives, without Hydra's own node."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return OmegaConf.to_container(cfg, resolve=True)


def finish_wandb() -> None:
    """Close the W&B run so the next job of a multirun starts its own."""
    if "wandb" in sys.modules and sys.modules["wandb"].run is not None:
        sys.modules["wandb"].finish()


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit one model; returns the final callback metrics as floats.

    A run folder that already holds checkpoints (``hydra.run.dir=<run folder>``) is
    continued from its newest one, in the same W&B run.
    """
    pl.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
    ckpt_path = cfg.get("ckpt_path") or latest_checkpoint(cfg.paths.output_dir)
    if ckpt_path:
        log.info(f"resuming from {ckpt_path}")
    trainer = build_trainer(cfg, ckpt_path)
    try:
        for logger in trainer.loggers:
            logger.log_hyperparams(plain_config(cfg))
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    finally:
        finish_wandb()
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
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


def run(cfg: DictConfig) -> float | None:
    """The Hydra task: train, report failures in one line, return the swept metric.

    Exit codes: 2 for bad configuration (nothing trained), 3 for a non-finite loss
    (the last good checkpoint is kept).
    """
    try:
        metrics = train(cfg)
    except ConfigError as error:
        exit_with(2, f"error: {error}")  # in a multirun: this job fails, the sweep goes on
    except NonFiniteLoss as error:
        kept = latest_checkpoint(cfg.paths.output_dir)
        exit_with(3, f"error: {error}; last good checkpoint: {kept or 'none yet'}")
    save_metrics(cfg.paths.output_dir, metrics)  # the sweep summary's row
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None
