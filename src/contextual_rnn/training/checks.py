"""Checks of a run's configuration that no constructor makes, before anything trains.

Model, task and data options are checked by the classes that take them (one line
each, ``core.errors``). What is left is checked here: the seed, the thread count,
the Trainer's arguments (Lightning's own messages span lines and name no key, or it
silently accepts values that train nothing), the checkpoint to start from, the metric
a sweeper optimises and the run folder.
"""

import inspect
from pathlib import Path

import pytorch_lightning as pl
import torch

from contextual_rnn.core.errors import (
    ConfigError,
    finite_number,
    is_int,
    is_number,
    one_of,
    positive_int,
    require,
)
from contextual_rnn.training.callbacks.resume_checkpoint import readable

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
TRAINER_ARGUMENTS = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
RUN_SUBFOLDERS = ("checkpoints", "checkpoints/resume", "csv", "figures", "wandb")
SEED_LIMIT = 2**32  # numpy's seeds are 32-bit


def check_seed(value: object) -> int:
    require(
        is_int(value) and 0 <= value < SEED_LIMIT, "seed", value, "an integer from 0 to 2**32 - 1"
    )
    return value


def check_threads(value: object) -> None:
    if value != "auto":
        positive_int("threads", value)


def fraction_or_count(key: str, value: object, zero_allowed: bool) -> None:
    """Lightning's limit_*_batches / val_check_interval: a count or a fraction of an epoch."""
    if value is None:
        return
    least = 0 if zero_allowed else 1
    allowed = (
        f"an integer >= {least} (batches) or a fraction in {'[0' if zero_allowed else '(0'}, 1]"
    )
    fraction = is_number(value) and not is_int(value) and value <= 1
    fraction = fraction and (value >= 0 if zero_allowed else value > 0)
    require((is_int(value) and value >= least) or fraction, key, value, allowed)


def check_trainer(trainer: dict) -> None:
    for key in trainer:
        if key not in TRAINER_ARGUMENTS and not key.startswith("_"):
            raise ConfigError(
                f"trainer.{key}", trainer[key], "an argument of pytorch_lightning.Trainer"
            )
    epochs = trainer.get("max_epochs")
    if epochs is not None:
        require(
            is_int(epochs) and (epochs >= 1 or epochs == -1),
            "trainer.max_epochs",
            epochs,
            "an integer >= 1 (or -1: no limit)",
        )
    for key in ("max_steps",):
        if trainer.get(key) not in (None, -1):
            positive_int(f"trainer.{key}", trainer[key])
    fraction_or_count("trainer.limit_train_batches", trainer.get("limit_train_batches"), False)
    fraction_or_count("trainer.limit_val_batches", trainer.get("limit_val_batches"), True)
    fraction_or_count("trainer.val_check_interval", trainer.get("val_check_interval"), False)
    for key in ("log_every_n_steps", "check_val_every_n_epoch", "accumulate_grad_batches"):
        if trainer.get(key) is not None:
            positive_int(f"trainer.{key}", trainer[key])
    if trainer.get("gradient_clip_val") is not None:
        finite_number("trainer.gradient_clip_val", trainer["gradient_clip_val"], low=0.0)
    if trainer.get("gradient_clip_algorithm") is not None:
        one_of(
            "trainer.gradient_clip_algorithm", trainer["gradient_clip_algorithm"], ("norm", "value")
        )
    check_devices(trainer.get("accelerator", "auto"), trainer.get("devices", "auto"))


def check_devices(accelerator: object, devices: object) -> None:
    one_of("trainer.accelerator", accelerator, ACCELERATORS)
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.accelerator", accelerator, "cpu or auto: this machine has no GPU"
        )
    if devices == "auto" or (
        isinstance(devices, list) and all(is_int(d) and d >= 0 for d in devices) and devices
    ):
        return
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    require(
        is_int(devices) and (devices >= 1 or devices == -1),
        "trainer.devices",
        devices,
        "a positive integer, -1 (all), a list of device indices or auto",
    )


def check_checkpoint_path(value: object) -> Path | None:
    if value is None:
        return None
    require(isinstance(value, str) and value, "ckpt_path", value, "the path of a checkpoint file")
    path = Path(value)
    require(path.is_file(), "ckpt_path", value, "an existing checkpoint file")
    require(
        readable(path) is not None,
        "ckpt_path",
        value,
        "a readable checkpoint (not torn, not foreign)",
    )
    return path


def check_optimized_metric(name: object, logged: tuple[str, ...]) -> None:
    if name is not None:
        one_of("optimized_metric", name, logged)


def check_run_folder(output_dir: str | Path) -> None:
    """A file standing where the run folder, a folder above it or one of its subfolders
    belongs is refused (nothing would be written there)."""
    root = Path(output_dir).absolute()
    for path in (*reversed(root.parents), root, *(root / sub for sub in RUN_SUBFOLDERS)):
        if path.exists() and not path.is_dir():
            raise ConfigError("run folder", str(path), "a folder: a file stands there")
