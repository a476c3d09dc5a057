"""Load a trained model from a checkpoint safely, with one clear error when it cannot be.

A checkpoint holds only tensors and plain values, so it loads with
``torch.load(weights_only=True)``; the module is rebuilt from the stored configs
through ``core.registry``, which builds only registered cells, initial states and
tasks with plain options, and only the listed optimizers. Nothing a checkpoint
stores can name other code to run.
"""

import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from contextual_rnn.core.errors import ConfigError
from contextual_rnn.core.modules import SequenceModule, module_for
from contextual_rnn.core.registry import check_plain, resolve
from contextual_rnn.core.tasks.base import SequenceTask

HPARAMS = {"model", "task", "fitted", "data"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, unsafe or not one of ours; one line."""


def find_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A checkpoint file, or the ``best`` / ``last`` one in a run folder."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise CheckpointError(f"no checkpoint or run folder at {path}")
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    if which == "last":
        if (folder / "last.ckpt").is_file():
            return folder / "last.ckpt"
        raise CheckpointError(f"no last.ckpt in {folder}")
    best = sorted(p for p in folder.glob("*.ckpt") if p.name != "last.ckpt")
    if len(best) == 1:
        return best[0]
    if not best:
        raise CheckpointError(f"no best checkpoint in {folder} (try --which last)")
    raise CheckpointError(f"{len(best)} candidate checkpoints in {folder}: pass one file")


def read_checkpoint(path: Path) -> dict:
    try:
        with warnings.catch_warnings():  # torch warns of a plain pickle before refusing it
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} holds more than tensors and plain values: not loaded "
            "(weights_only=True refuses pickled code)"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt: {type(error).__name__})"
        ) from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a folder, not a checkpoint file") from None
    except OSError as error:
        raise CheckpointError(f"{path} cannot be read: {error.strerror or error}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint")
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, dict) or not {"model", "task"} <= set(hparams):
        raise CheckpointError(f"{path} is not a contextual_rnn checkpoint")
    for name, value in checkpoint["state_dict"].items():
        if torch.is_tensor(value) and value.is_floating_point() and not value.isfinite().all():
            raise CheckpointError(f"{path}: refused: its weight {name} is not finite (NaN or inf)")
    return checkpoint


def check_shapes(path: Path, module: SequenceModule, state_dict: dict) -> None:
    """The weights of a module built from the stored config (on torch's meta device: nothing
    allocated) against the stored weights, name by name."""
    stored = {name: tuple(value.shape) for name, value in state_dict.items()}
    built = {name: tuple(value.shape) for name, value in module.state_dict().items()}
    for name in sorted(stored.keys() | built.keys()):
        if stored.get(name) != built.get(name):
            raise CheckpointError(
                f"{path}: its stored config does not match its weights ({name}: "
                f"{built.get(name)} by the config, {stored.get(name)} stored)"
            )


def module_class(path: Path, hparams: dict) -> type[SequenceModule]:
    """The module of the stored task's kind (the task a registered class)."""
    task = hparams["task"]
    target = task.get("_target_") if isinstance(task, dict) else None
    try:
        return module_for(resolve(target, SequenceTask, "task"))
    except ConfigError as error:
        raise CheckpointError(f"{path}: refused: {error}") from None


def load_module(path: str | Path, which: str = "best", kind: str | None = None) -> SequenceModule:
    """The trained module in eval mode; ``kind``, a ``SequenceTask.kind``, is checked."""
    path = find_checkpoint(path, which)
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    unknown = sorted(set(hparams) - HPARAMS)
    if unknown:
        raise CheckpointError(f"{path}: refused: unknown stored entry {unknown[0]!r}")
    cls = module_class(path, hparams)
    if kind is not None and cls.kind != kind:
        task_name = hparams["task"]["_target_"].rsplit(".", 1)[-1]
        raise CheckpointError(
            f"{path} was trained on {task_name}, a {cls.kind} task; this needs a {kind} model"
        )
    options = {k: hparams[k] for k in HPARAMS if k in hparams}
    try:
        for name in ("fitted", "data"):  # plain values, like the options of what it builds
            check_plain(options.get(name), name)
        with torch.device("meta"):
            check_shapes(path, cls(**options), checkpoint["state_dict"])
        module = cls(**options)
    except CheckpointError:
        raise
    except RuntimeError as error:  # a size past what torch can even count
        raise CheckpointError(
            f"{path}: its stored config does not match its weights ({error})"
        ) from None
    except ConfigError as error:
        raise CheckpointError(f"{path}: refused: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # malformed stored values
        raise CheckpointError(f"{path}: its stored config is malformed ({error!r})") from None
    module.load_state_dict(checkpoint["state_dict"])
    module.checkpoint_path = path
    return module.eval()
