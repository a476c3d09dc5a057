"""The run's config: composing it, its typed options, and every refusal in one line.

Hydra composes the config (``compose_config`` outside the command line); a composition error
(an unknown group option or key, an override Hydra cannot parse) becomes one line here,
as every other bad input does: ``error: <key>=<value> is not allowed: expected <what is
allowed>``, exit code 2. The run's own options and the Trainer's values that Lightning
would accept silently are typed (pydantic); what a class declares is checked by its own
typed signature when the run is built (``train.build_run``). An error names the key the
user set: a value that comes from an interpolation is reported under the key that holds it."""

import errno
import os
import re
import socket
import sys
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import urlsplit

import torch
from annotated_types import Ge, Gt, Le
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import env_override
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ConfigDict, Strict

from contextual_rnn.errors import (
    ConfigError,
    NonNegative,
    PositiveInt,
    Seed,
    allowed,
    choice,
    integer,
    number,
    that,
)

# The package's config folder, the one ``pkg://contextual_rnn.conf`` reads: in a checkout
# src/contextual_rnn/conf links to the repository's conf/, a wheel holds a copy.
CONFIG_PACKAGE = "contextual_rnn.conf"


CONFIG_DIR = Path(str(resources.files(CONFIG_PACKAGE)))


def compose_config(
    overrides: list[str] = (),
    output_dir: str | Path | None = None,
    config_dir: str | Path = CONFIG_DIR,
) -> DictConfig:
    """The config ``python train.py <overrides>`` would run with, writing to ``output_dir``.

    Hydra's runtime values (``${hydra:...}``) resolve as in a real run.
    """
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


# Hydra's flags that take a value (``--info`` takes one optionally, from a fixed set).
VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name"}
VALUE_FLAGS |= {"-cd", "--config-dir", "--experimental-rerun"}


INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


BAD_CONFIG, CANNOT_WRITE = 2, 4


def flags_first(argv: list[str]) -> list[str]:
    """Hydra's flags (with their values) moved before the overrides, each in its order.

    argparse cannot collect overrides on both sides of a flag, so Hydra alone rejects
    ``train.py model/init=contextual data=lcd -m seed=0,1,2``; reordered, it runs.
    """
    flags, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        takes_value = arg in VALUE_FLAGS or (
            arg == "--info" and i + 1 < len(argv) and argv[i + 1] in INFO_CHOICES
        )
        if arg.startswith("-"):
            flags += argv[i : i + 1 + takes_value]
            i += 1 + takes_value
        else:
            overrides.append(arg)
            i += 1
    return flags + overrides


def refuse(problem: str, code: int = BAD_CONFIG) -> NoReturn:
    """End the command: one line, exit code 2 (or ``code``)."""
    print(f"error: {problem}", file=sys.stderr)
    sys.exit(code)


def not_an_option(group: str, choice: str, options: list[str]) -> str:
    return f"{group}={choice} is not an option; allowed: {', '.join(options)}"


def composition_error(error: ConfigCompositionException | OverrideParseException) -> str:
    """Hydra's complaint about the command line, in one line."""
    if isinstance(error, MissingConfigException) and error.options is not None:
        group, _, choice = (error.missing_cfg_file or "").rpartition("/")
        return not_an_option(group, choice, error.options)
    if isinstance(error, OverrideParseException):
        reason = error.message.splitlines()[0].strip()
        return f"{error.override} is not a valid override: {reason}"
    override = str(error).removeprefix("Error merging override ")
    if isinstance(error.__cause__, OmegaConfBaseException) and override != str(error):
        kind = getattr(error.__cause__, "object_type", None)  # the type of the value there
        reason = str(error.__cause__).splitlines()[0]
        expected = f"a {kind.__name__}" if isinstance(kind, type) else "the type of its default"
        return f"{override} is not allowed: expected {expected} ({reason})"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(error).__name__


@contextmanager
def hydra_errors_in_one_line():
    """Hydra's composition errors inside end the command with one line and exit code 2."""
    try:
        with env_override({"HYDRA_FULL_ERROR": "1"}):  # raise, don't print: run_and_report
            yield
    except (ConfigCompositionException, OverrideParseException) as error:
        refuse(composition_error(error))


ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")


NO_GPU = "cpu or auto: this machine has no GPU"


TRAINER = "pytorch_lightning.Trainer"


RUN_SUBFOLDERS = ("checkpoints", "checkpoints/resume", "csv", "figures", "wandb")


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


class RunOptions(BaseModel):
    """The run's own options (conf/train.yaml)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Strict(), that(run_name, "a folder name: no '/', not '.' or '..'")]
    seed: Seed = 0
    threads: Annotated[
        PositiveInt,
        that(lambda n: n <= MAX_THREADS),
        allowed(f"a positive integer up to {MAX_THREADS} ({THREADS_PER_CORE} per core)"),
    ] = 1
    ckpt_path: Annotated[str, Strict(), that(bool, "the path of a checkpoint file")] | None = None
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
        epoch = -(-rows // batch_size)  # the batches training draws
        epoch = int(epoch * limit) if type(limit) is float else epoch
        words = f"at most {epoch} (the training batches of an epoch)"
    else:
        return
    if interval > epoch:
        raise ConfigError("trainer.val_check_interval", interval, words)


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


def unwritable(folder: str | Path) -> OSError | None:
    """Why nothing could be written in ``folder`` (created where missing), found without
    creating anything: the nearest folder that exists must be a writable folder."""
    folder = Path(folder).absolute()
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        return OSError(errno.ENOTDIR, f"{existing} is a file, not a folder", str(folder))
    if not os.access(existing, os.W_OK):
        return OSError(errno.EACCES, f"{existing} is not writable", str(folder))
    return None


def refuse_unwritable(folder: str | Path) -> None:
    """Exit code 4 where the folder cannot be created (a read-only file system, permissions)."""
    if error := unwritable(folder):
        refuse(f"could not write {error.filename}: {error.strerror}", CANNOT_WRITE)


# The options that name where a callback or logger writes (a filename: inside its dirpath).
PATH_OPTIONS = ("dirpath", "save_dir", "filename", "folder")


def check_inside(values: dict, root: str | Path) -> None:
    """Every path a callback or logger writes to lies inside the run folder ``root``."""
    root = Path(root).resolve()
    for group in ("callbacks", "logger"):
        for name, node in (values.get(group) or {}).items():
            base = Path((node or {}).get("dirpath") or (node or {}).get("save_dir") or root)
            for option in PATH_OPTIONS if node else ():
                if node.get(option) is not None:
                    path = base / str(node[option]) if option == "filename" else Path(node[option])
                    if not path.resolve().is_relative_to(root):
                        where = f"a path inside the run folder {root}"
                        raise ConfigError(f"{group}.{name}.{option}", node[option], where)


def exists(cfg: DictConfig, key: str) -> bool:
    found = OmegaConf.select(cfg, key, default=KeyError, throw_on_resolution_failure=False)
    return found is not KeyError


def typed_key(cfg: DictConfig, key: str) -> str:
    """``key``, or where its value is set when (a node above) it is an interpolation of
    another key: ``model.init.hidden_sizes[0]`` -> ``model.context_net.hidden_sizes[0]``."""
    node = OmegaConf.to_container(cfg, resolve=False)  # interpolations as written
    for part in re.finditer(r"[^.\[\]]+", key):
        name = part.group()
        try:
            node = node[int(name)] if isinstance(node, list) else node[name]
        except (KeyError, IndexError, ValueError, TypeError):
            return key  # not a key of the config (``model/init``, ``run folder``)
        reference = re.fullmatch(r"\$\{([\w.]+)\}", node) if isinstance(node, str) else None
        if reference:  # ${a.b}, not ${resolver:...}
            if not exists(cfg, reference.group(1)):
                return key  # where it fails to resolve
            return typed_key(cfg, reference.group(1) + key[part.end() :])
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


# ``${run_name:mode,overrides,excluded,default}`` (conf/logger/wandb.yaml): a multirun job is
# named by its overrides less the ``excluded`` keys (those every job shares), each key by
# its last part and a float by 4 digits (``lr=0.001-seed=1``); a single run, or a job with
# nothing of its own, gets ``default``.
def run_name(mode, overrides, excluded, default: str) -> str:
    """``${run_name:mode,overrides,excluded,default}``: a multirun job is named by its
    overrides less the ``excluded`` keys, each key by its last part and a float by 4 digits
    (``lr=0.001-seed=1``); a single run, or a job with nothing of its own, gets ``default``."""
    if mode not in (RunMode.MULTIRUN, "MULTIRUN"):
        return default
    parts = []
    for override in OverridesParser.create().parse_overrides([str(o) for o in overrides]):
        if override.key_or_group in set(excluded):
            continue
        key = override.key_or_group.split(".")[-1].split("/")[-1]
        value = override.value()  # a float to 4 digits: an Optuna trial's lr=0.0002416
        text = f"{value:.4g}" if isinstance(value, float) else override.get_value_element_as_str()
        parts.append(f"{key}={text}")
    return "-".join(parts) or default


OmegaConf.register_new_resolver("run_name", run_name, replace=True)
