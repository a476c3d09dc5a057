"""Read a trained model's checkpoint safely, with one clear error when it cannot be.

A checkpoint holds only tensors and plain values, so it loads with
``torch.load(weights_only=True)``; ``SequenceModule.load`` rebuilds the module from the
stored configs through ``registry``, which builds only registered cells, initial
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


def load_plain(path: str | Path) -> dict:
    """A checkpoint's contents, loaded with ``weights_only=True``: tensors and plain values
    only. Anything but a regular file (a folder, a FIFO, a device) is refused unread."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "missing" if not path.exists() else "not a file"
        raise CheckpointError(f"{path} is {what}, not a checkpoint file")
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
    except OSError as error:
        raise CheckpointError(f"{path} cannot be read: {error.strerror or error}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint")
    return checkpoint


def read_checkpoint(path: Path) -> dict:
    """``load_plain`` of one of this project's checkpoints (its stored configs checked)."""
    checkpoint = load_plain(path)
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, dict) or not {"model", "task"} <= set(hparams):
        raise CheckpointError(f"{path} is not a contextual_rnn checkpoint")
    return checkpoint


def trained_epochs(checkpoint: dict) -> int | None:
    """How many epochs a checkpoint's run had gone through (Lightning's fit loop)."""
    try:
        return int(checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return None


def check_weights(path: Path, module: torch.nn.Module, state_dict: dict) -> None:
    """The stored weights against those of a module built from the stored config (on
    torch's meta device: nothing allocated), name by name, in shape and dtype; then each
    must be finite. Sizes come first, so a weight that claims to be huge is refused
    before anything reads it."""
    built = module.state_dict()
    for name in sorted(state_dict.keys() | built.keys()):
        stored, expected = state_dict.get(name), built.get(name)
        same = torch.is_tensor(stored) and expected is not None
        if not same or stored.shape != expected.shape or stored.dtype != expected.dtype:
            describe = lambda t: f"{tuple(t.shape)} {t.dtype}" if torch.is_tensor(t) else t  # noqa: E731
            raise CheckpointError(
                f"{path}: its stored config does not match its weights ({name}: "
                f"{describe(expected)} by the config, {describe(stored)} stored)"
            )
    for name, value in state_dict.items():
        if value.is_floating_point() and not value.isfinite().all():
            raise CheckpointError(f"{path}: refused: its weight {name} is not finite (NaN or inf)")
