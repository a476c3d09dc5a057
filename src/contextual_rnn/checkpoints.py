"""Load a trained model from a checkpoint, safely, with one clear error when it cannot be.

Checkpoints hold only tensors and primitives (the model and data configs and the
task spec as plain dicts), so they load with ``torch.load(weights_only=True)``
and the module is rebuilt from them; no pickled code is ever executed.
"""

import pickle
import zipfile
from pathlib import Path

import torch

from contextual_rnn.modules import MODULES
from contextual_rnn.modules.base import SequenceModule


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not one of ours; the message is one line."""


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
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} holds more than tensors and primitives: not loaded "
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
    hparams = checkpoint.get("hyper_parameters") or {}
    if not {"model", "spec"} <= set(hparams) or hparams["spec"].get("kind") not in MODULES:
        raise CheckpointError(f"{path} is not a contextual_rnn checkpoint")
    return checkpoint


def load_module(path: str | Path, which: str = "best", kind: str | None = None) -> SequenceModule:
    """The trained module in eval mode. ``kind`` ("classification"/"regression") is checked."""
    path = find_checkpoint(path, which)
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    spec = hparams["spec"]
    if kind is not None and spec["kind"] != kind:
        wanted = {"classification": "ART-like (classification)", "regression": "LCD-like"}[kind]
        raise CheckpointError(f"{path} was trained on {spec['name']}; this needs an {wanted} model")
    module = MODULES[spec["kind"]](**hparams)
    module.load_state_dict(checkpoint["state_dict"])
    module.checkpoint_path = path
    return module.eval()
