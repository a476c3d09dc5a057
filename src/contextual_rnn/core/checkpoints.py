"""Read a trained model's checkpoint safely, with one clear error when it cannot be.

A checkpoint holds only tensors and plain values, so it loads with
``torch.load(weights_only=True)``; ``SequenceModule.load`` rebuilds the module from the
stored configs through ``core.registry``, which builds only registered cells, initial
states and tasks with plain options, and only the listed optimizers. Nothing a
checkpoint stores can name other code to run.
"""

import pickle
import warnings
import zipfile
from pathlib import Path

import torch


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, unsafe or not one of ours; one line."""


def find_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A checkpoint file, or the ``best`` / ``last`` one in a run folder."""
    if which not in ("best", "last"):
        raise CheckpointError(f"which={which!r}: expected 'best' or 'last'")
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
        raise CheckpointError(f"no best checkpoint in {folder} (try which='last')")
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


def check_shapes(path: Path, module: torch.nn.Module, state_dict: dict) -> None:
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
