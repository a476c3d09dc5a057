"""A run's whole config checked before anything is built or written.

Every class the config names declares its options in its constructor's typed signature
(``core.errors``); ``check_config`` checks each node against its class without building
it (but the task, a few plain values, for its layout and kind). What no class of the
project declares is declared here: the run's own options, the Trainer's arguments
(Lightning's own messages span lines and name no key, or it silently accepts values
that train nothing), the run folder, W&B's mode and what the run may ask of this machine
(threads, and the memory of its splits and its model, measured on torch's meta device
without allocating them). An error names the key the user set: a value
that comes from an interpolation (``model.init.hidden_sizes:
${model.context_net.hidden_sizes}``) is reported under the key that holds it.

``ConfigCheck`` is a Hydra callback (conf/hydra/default.yaml): ``on_run_start`` runs
after Hydra composed the config and before it creates the run folder. Hydra turns a
callback's exception into a warning, so a bad config ends there with one line and exit
code 2. The task function checks its config again (``train``): that is where a
multirun's jobs are checked, and a config composed outside the command line.
"""

import inspect
import math
import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pytorch_lightning as pl
import torch
from annotated_types import Ge, Gt, Le
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import filter_overrides
from hydra.experimental.callback import Callback
from hydra.utils import get_class
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, ListConfig, Node, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException
from pydantic import AfterValidator, BaseModel, ConfigDict, Strict

from contextual_rnn.core.errors import (
    ConfigError,
    NonNegative,
    PositiveInt,
    Seed,
    allowed,
    check_memory,
    check_options,
    choice,
    integer,
    meta_splits,
    number,
    split_bytes,
    that,
    validate,
)
from contextual_rnn.core.modules import MODULES
from contextual_rnn.core.modules.base import check_model
from contextual_rnn.core.registry import build
from contextual_rnn.core.sampling import EpochBatches
from contextual_rnn.core.tasks.base import SequenceTask
from contextual_rnn.model.cells import RecurrentCell
from contextual_rnn.model.initial_states import InitialState
from contextual_rnn.training.arguments import CANNOT_WRITE, not_an_option, refuse
from contextual_rnn.training.callbacks.resume_checkpoint import readable, trained_epochs
from contextual_rnn.training.distributed import ShardedData

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
NO_GPU = "cpu or auto: this machine has no GPU"
TRAINER = "pytorch_lightning.Trainer"
TRAINER_ARGUMENTS = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
RUN_SUBFOLDERS = ("checkpoints", "checkpoints/resume", "csv", "figures", "wandb")
PACKAGE = "contextual_rnn."
# Torch threads per run: more than this many per core only makes the OpenMP runtime fail.
THREADS_PER_CORE = 4
MAX_THREADS = THREADS_PER_CORE * os.cpu_count()
# Lightning runs mixed and half precision only without gradient clipping (every task clips);
# the data is float32, which 64-true does not convert.
PRECISIONS = ("32-true", 32, "32")
WANDB_MODES = ("offline", "online", "disabled", "dryrun")


def run_name(name: str) -> bool:
    """A folder name under outputs/: no path separator, not ``.`` or ``..``."""
    return name not in ("", ".", "..") and "/" not in name and os.sep not in name


def checkpoint_file(path: str | None) -> str | None:
    if path is not None:
        if not path:
            raise ValueError("the path of a checkpoint file")
        if not Path(path).is_file():
            raise ValueError("an existing checkpoint file")
        if readable(Path(path)) is None:
            raise ValueError("a readable checkpoint (not torn, not foreign)")
    return path


class RunOptions(BaseModel):
    """The run's own options (conf/train.yaml)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Strict(), that(run_name, "a folder name: no '/', not '.' or '..'")]
    seed: Seed = 0
    threads: Annotated[
        PositiveInt | Literal["auto"],
        that(lambda n: n == "auto" or n <= MAX_THREADS),
        allowed(f"a positive integer up to {MAX_THREADS} ({THREADS_PER_CORE} per core), or auto"),
    ] = "auto"
    ckpt_path: Annotated[str | None, AfterValidator(checkpoint_file)] = None
    optimized_metric: str | None = None
    matmul_precision: choice("highest", "high", "medium") = "highest"  # float32 products on a GPU
    tags: list = []
    # the config groups: each checked by its own classes (check_values)
    model: Any = None
    data: Any = None
    preset: Any = None
    trainer: Any = None
    callbacks: Any = None
    logger: Any = None
    paths: Any = None


def batches(zero_allowed: bool) -> Any:
    """Lightning's limit_*_batches / val_check_interval: a count or a fraction of an epoch."""
    least = 0 if zero_allowed else 1
    words = f"an integer >= {least} (batches) or a fraction in {'[0' if zero_allowed else '(0'}, 1]"
    fraction = number(words, Ge(0) if zero_allowed else Gt(0), Le(1))
    return Annotated[integer(words, Ge(least)) | fraction, allowed(words)] | None


def device_list(devices: object) -> bool:
    if isinstance(devices, list):
        return bool(devices) and all(type(d) is int and d >= 0 for d in devices)
    devices = int(devices) if isinstance(devices, str) and devices.isdigit() else devices
    return devices == "auto" or (type(devices) is int and unlimited_or_positive(devices))


def unlimited_or_positive(count: int) -> bool:
    return count >= 1 or count == -1


def usable(accelerator: str) -> bool:
    return accelerator not in ("gpu", "cuda") or torch.cuda.is_available()


class TrainerArguments(BaseModel):
    """The Trainer arguments a value can be wrong for; any other must be one of Trainer's."""

    model_config = ConfigDict(extra="allow")
    max_epochs: integer("an integer >= 1 (or -1: no limit)", that(unlimited_or_positive)) | None = (
        None
    )
    max_steps: integer("a positive integer", that(unlimited_or_positive)) | None = None
    limit_train_batches: batches(zero_allowed=False) = None
    limit_val_batches: batches(zero_allowed=True) = None
    val_check_interval: batches(zero_allowed=False) = None
    log_every_n_steps: PositiveInt | None = None
    check_val_every_n_epoch: PositiveInt | None = None
    accumulate_grad_batches: PositiveInt | None = None
    gradient_clip_val: NonNegative | None = None
    gradient_clip_algorithm: choice("norm", "value") | None = None
    precision: Annotated[
        Literal[PRECISIONS],
        allowed("32-true (mixed precision: Lightning refuses it with gradient clipping)"),
    ] = "32-true"
    accelerator: Annotated[choice(*ACCELERATORS), that(usable, NO_GPU)] = "auto"
    devices: Annotated[
        Any,
        that(device_list),
        allowed("a positive integer, -1 (all), a list of device indices or auto"),
    ] = "auto"


def check_target(node: dict, key: str, build_library_class: bool = False) -> None:
    """A callback's or logger's options against its class: a project class by its typed
    signature; another library's by its parameters' names and, if asked, by building it
    (a Lightning callback checks its values only there; it writes nothing when built)."""
    try:
        cls = get_class(node.get("_target_"))
    except Exception:  # noqa: BLE001 - Hydra's own error for a target it cannot import
        raise ConfigError(f"{key}._target_", node.get("_target_"), "an importable class") from None
    options = {name: value for name, value in node.items() if not name.startswith("_")}
    ours = cls.__module__.startswith(PACKAGE)
    check_options(cls, options, key, typed=ours)
    if build_library_class and not ours:
        try:
            cls(**options)
        except (ValueError, TypeError, MisconfigurationException) as error:
            message = " ".join(str(error).split())
            raise ConfigError(key, "...", f"settings it accepts: {message}") from None


def check_run_folder(output_dir: str | Path, key: str = "run folder") -> None:
    """A file standing where the run folder, a folder above it or one of its subfolders
    belongs is refused (nothing would be written there)."""
    root = Path(output_dir).absolute()
    for path in (*reversed(root.parents), root, *(root / sub for sub in RUN_SUBFOLDERS)):
        if path.exists() and not path.is_dir():
            raise ConfigError(key, str(path), "a folder: a file stands there")


def check_schedule(trainer: dict, optimized_metric: str | None, splits: dict | None, batch_size):
    """What Lightning finds only once training started (or never): no validation while a
    metric is optimised; a validation interval in batches longer than an epoch (of
    ``limit_train_batches`` batches, or of the training split at ``batch_size`` with a
    fractional limit applied as Lightning applies it; ``splits`` from torch's meta device,
    None where the task's generation needs values: then left to Lightning)."""
    if optimized_metric is not None and trainer.get("limit_val_batches") == 0:
        raise ConfigError(
            "trainer.limit_val_batches",
            0,
            f"batches > 0: validation logs optimized_metric={optimized_metric!r} "
            "(optimized_metric=null trains without validation)",
        )
    interval, limit = trainer.get("val_check_interval"), trainer.get("limit_train_batches")
    if type(interval) is not int:
        return
    if type(limit) is int:
        epoch = limit
        words = f"at most trainer.limit_train_batches={limit} (the batches of an epoch)"
    elif splits is not None and type(batch_size) is int:
        rows = len(next(iter(splits["train"].values())))
        epoch = len(EpochBatches(rows, batch_size, seed=0))  # the batches training draws
        epoch = int(epoch * limit) if type(limit) is float else epoch
        words = f"at most {epoch} (the training batches of an epoch)"
    else:
        return
    if interval > epoch:
        raise ConfigError("trainer.val_check_interval", interval, words)


def check_memory_needs(model: dict, task: SequenceTask, splits: dict | None, embedding_dim: int):
    """The task's splits and the training state of the cell's and initial state's parameters,
    each measured on torch's meta device (nothing is allocated): training holds every float32
    parameter four times (weights, gradients, Adam's two moments)."""
    check_memory("data.task", type(task).__name__, split_bytes(splits), "splits that fit")
    layout = task.layout
    step_size = embedding_dim if layout.input_kind == "tokens" else layout.input_size
    context_size = step_size if layout.context == "first_token" else layout.context_size
    try:
        with torch.device("meta"):
            cell = build(model["cell"], RecurrentCell, "model.cell", True, input_size=step_size)
            init = build(
                model["init"],
                InitialState,
                "model.init",
                True,
                cell=cell,
                context_size=context_size,
            )
        parameters = {id(p): p.numel() for part in (cell, init) for p in part.parameters()}
        needed = 16 * sum(parameters.values())
    except RuntimeError:  # a size past what torch can even count
        needed = math.inf
    hidden_size = model["cell"].get("hidden_size")
    check_memory("model.cell.hidden_size", hidden_size, needed, "a training state that fits")


def check_wandb(node: dict, key: str) -> None:
    """W&B's mode (WANDB_MODE); online, its server must answer within seconds (W&B itself
    retries for minutes, then trains without it)."""
    mode = node.get("mode")
    if mode not in WANDB_MODES:
        raise ConfigError(f"{key}.mode", mode, "one of " + ", ".join(WANDB_MODES) + " (WANDB_MODE)")
    if mode == "online":
        url = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
        address = (url.hostname, url.port or (443 if url.scheme == "https" else 80))
        try:
            socket.create_connection(address, timeout=5).close()
        except OSError as error:
            words = f"a W&B server that answers ({url.netloc}: {error.strerror or error}; "
            raise ConfigError(f"{key}.mode", mode, words + "offline runs sync later)") from None


def refuse_unwritable(folder: str | Path) -> None:
    """Exit code 4 where the folder cannot be created (a read-only file system, permissions)."""
    folder = Path(folder).absolute()
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not os.access(existing, os.W_OK):
        refuse(f"could not write {folder}: {existing} is not writable", CANNOT_WRITE)


def plain_values(cfg: DictConfig) -> dict:
    """The run's config, Hydra's own node left out, as plain values; an interpolation
    that does not resolve is a ConfigError."""
    try:
        run = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        return OmegaConf.to_container(run, resolve=True)
    except OmegaConfBaseException as error:
        where = getattr(error, "full_key", None) or "config"
        raw = error.child_node._value() if getattr(error, "child_node", None) else None
        reason = str(error).splitlines()[0]
        raise ConfigError(where, raw, f"an interpolation that resolves ({reason})") from None


def check_epochs_left(path: str | None, max_epochs) -> None:
    """A ``ckpt_path`` to start from must leave epochs to train: from one whose run already
    trained ``max_epochs`` the run would train nothing and log no metric."""
    if path is None or max_epochs is None or max_epochs == -1:
        return
    done = trained_epochs(Path(path))
    if done is not None and done >= max_epochs:
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
    for key in trainer:
        if key not in TRAINER_ARGUMENTS and not key.startswith("_"):
            raise ConfigError(f"trainer.{key}", trainer[key], "an argument of " + TRAINER)
    validate(TrainerArguments, trainer, "trainer")
    check_epochs_left(run.ckpt_path, trainer.get("max_epochs"))
    data, model = values.get("data") or {}, values.get("model") or {}
    task = build(data.pop("task", None), SequenceTask, "data.task", trusted=True)
    check_options(ShardedData, data, "data", provided={"task"})
    options, _ = check_model(model, task, trusted=True)
    splits = meta_splits(task)
    check_memory_needs(model, task, splits, options.embedding_dim)
    check_schedule(trainer, run.optimized_metric, splits, data.get("batch_size", 128))
    logged = MODULES[task.kind].logged_metrics
    if run.optimized_metric is not None and run.optimized_metric not in logged:
        raise ConfigError("optimized_metric", run.optimized_metric, "one of " + ", ".join(logged))
    for group in ("callbacks", "logger"):
        for name, node in (values.get(group) or {}).items():
            if node:
                check_target(node, f"{group}.{name}", build_library_class=group == "callbacks")
            if node and str(node.get("_target_")).endswith("WandbLogger"):
                check_wandb(node, f"{group}.{name}")
    check_run_folder(values["paths"]["output_dir"])


def check_config(cfg: DictConfig) -> None:
    """Every option of a run checked; a ConfigError names the key the user set."""
    try:
        check_values(cfg)
    except ConfigError as error:
        raise ConfigError(typed_key(cfg, error.key), error.value, error.allowed) from None


def exists(cfg: DictConfig, key: str) -> bool:
    found = OmegaConf.select(cfg, key, default=KeyError, throw_on_resolution_failure=False)
    return found is not KeyError


def typed_key(cfg: DictConfig, key: str) -> str:
    """``key``, or where its value is set when (a node above) it is an interpolation of
    another key: ``model.init.hidden_sizes[0]`` -> ``model.context_net.hidden_sizes[0]``."""
    node = cfg
    for part in re.finditer(r"[^.\[\]]+", key):
        name = part.group()
        try:
            node = node._get_node(int(name) if isinstance(node, ListConfig) else name)
        except (AttributeError, IndexError, ValueError, OmegaConfBaseException):
            return key  # not a key of the config (``model/init``, ``run folder``)
        if not isinstance(node, Node):
            return key
        if node._is_interpolation():
            reference = re.fullmatch(r"\$\{([\w.]+)\}", str(node._value()))
            target = reference.group(1) if reference else None  # ${a.b}, not ${resolver:...}
            if target is None or not exists(cfg, target):
                return key  # where it fails to resolve
            return typed_key(cfg, target + key[part.end() :])
    return key


def bad_swept_choice(config: DictConfig) -> str | None:
    """An option a multirun sweeps a config group over that does not exist (Hydra would
    find it only when it composes that job), or an empty interval (Optuna's to sample)."""
    loader = GlobalHydra.instance().config_loader()
    overrides = OmegaConf.to_container(config.hydra.overrides.task)
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_interval_sweep() and not override.value().start < override.value().end:
            return f"{override.input_line} is not allowed: expected interval(low, high), low < high"
        options = loader.get_group_options(override.key_or_group)
        if override.is_sweep_override() and options and not override.is_delete():
            for value in override.sweep_string_iterator():
                if value not in options:
                    return not_an_option(override.key_or_group, value, options)
    return None


def check_job(config: DictConfig, folder: str, prefix: str = "") -> None:
    """``check_config`` of a job as ``run_job`` will run it in ``folder`` (its
    ``runtime.output_dir`` and Hydra's config set as there): a bad value ends the command
    in one line, ``prefix`` first, with exit code 2."""
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = os.path.abspath(folder)
    HydraConfig.instance().set_config(config)
    try:
        check_config(config)
    except ConfigError as error:
        refuse(f"{prefix}{error}")


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
        HydraConfig.instance().set_config(config)  # for the ${hydra:...} in the folder's name
        if not str(config.hydra.run.dir).strip():
            refuse("hydra.run.dir='' is not allowed: expected a folder (not the working directory)")
        check_job(config, config.hydra.run.dir)
        refuse_unwritable(config.hydra.runtime.output_dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
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
