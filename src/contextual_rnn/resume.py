"""Exact resume: resume checkpoints, the random generators, the run's status and folder."""

import contextlib
import fcntl
import json
import os
import random
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pytorch_lightning import Callback
from pytorch_lightning.loggers import CSVLogger

from contextual_rnn.checkpoints import CheckpointError, load_plain
from contextual_rnn.errors import ConfigError, PositiveInt, checked, one_line
from contextual_rnn.files import write_atomically
from contextual_rnn.loggers import define_summaries, keep_rows_before, update_summary

# --- The checkpoints a killed run resumes from, written only where resuming is exact.
#
# Lightning restores a run exactly from a checkpoint taken after a training step in
# the middle of an epoch; not from one taken after a step that validation or the end
# of an epoch follows (the resumed run would skip them: their rows, the reset of the
# running metrics), nor as an epoch starts (it counts the epoch twice). So this writes
#
# - every ``every_n_train_steps`` steps, at the first step from there on that neither
#   validation nor the end of an epoch follows;
# - when fitting ends, after every callback's ``on_train_end``, with the final metrics, so
#   that resuming a finished run changes nothing.
#
# Each is written to a temporary name and renamed, the loggers' rows on disk first; only
# the newest is kept. Lightning logs a row at step ``global_step - 1`` (validation and an
# epoch's end come before the step counter moves on), so a checkpoint at global step G
# covers exactly the rows below G, and every later row is at G or above: a resumed run
# cuts ``metrics.csv`` back to the rows below G (a fresh start: to none) and logs the
# rest again.
#
# A run folder is one run: ``same_config`` keeps the config it started with
# (``resume_config.json``) and refuses an attempt with another, but for the keys of
# ``MAY_CHANGE``, whose changes it records there, and those of ``NOT_COMPARED``. ``hold``
# lets one process at a time write the folder (``.lock``, an ``fcntl.flock`` the system
# releases when its process ends).

SUFFIX = ".ckpt"
RUN_CONFIG = "resume_config.json"
# Keys a resumed attempt may change, recorded: none changes the steps already trained.
MAY_CHANGE = ("trainer.max_epochs", "threads", "ckpt_path", "trainer.enable_progress_bar")
MAY_CHANGE += ("trainer.enable_model_summary",)
# Not compared: how the run logs, what its callbacks draw and save, where its folders are.
NOT_COMPARED = ("callbacks", "logger", "tags", "paths")


class FolderInUse(ConfigError):
    def __init__(self, folder: Path, pid: str):
        ValueError.__init__(self, f"{folder} is in use by another process (pid {pid or '?'})")
        self.key, self.value, self.allowed = "run folder", str(folder), "a folder no process uses"


@contextlib.contextmanager
def hold(folder: str | Path):
    """This process alone writes ``folder`` while inside (FolderInUse otherwise)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise FolderInUse(folder, lock.read().strip()) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def leaves(node, prefix: str = "") -> dict[str, object]:
    """Flattened ``a.b.c -> value`` of a plain container (lists are values)."""
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    flat = {}
    for key, value in node.items():
        flat.update(leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def compared(folder: str | Path, config: dict) -> dict[str, object]:
    """The flat config a run folder records and compares: the folder's own path, wherever a
    value holds it (``trainer.default_root_dir``), written ``<run folder>``, so that a
    moved or copied folder is the same run."""
    spelled = sorted({str(folder), str(Path(folder).absolute())}, key=len, reverse=True)

    def relative(value):
        if isinstance(value, str):
            for path in spelled:
                value = value.replace(path, "<run folder>")
        return value

    flat = leaves(config).items()
    return {k: relative(v) for k, v in flat if not k.startswith(NOT_COMPARED)}


def config_changes(folder: str | Path, config: dict) -> dict[str, list]:
    """The keys whose values ``config`` (plain values) changes from those the run in
    ``folder`` started with; refused (a ConfigError) unless each is one of MAY_CHANGE.
    Reads only: the check before Hydra writes anything into the folder calls it too."""
    path = Path(folder) / RUN_CONFIG
    if not path.is_file():
        return {}
    stored = json.loads(path.read_text())["config"]
    config = compared(folder, config)
    changed = {
        key: [stored.get(key), config.get(key)]
        for key in sorted(stored.keys() | config.keys())
        if stored.get(key) != config.get(key)
    }
    refused = [key for key in changed if not key.startswith(MAY_CHANGE)]
    if refused:
        was = ", ".join(f"{key} {changed[key][0]!r} -> {changed[key][1]!r}" for key in refused)
        allowed = ", ".join(MAY_CHANGE)
        words = f"a new folder, or its run's config (changed: {was}; only {allowed} may change)"
        raise ConfigError("run folder", str(folder), words)
    return changed


def same_config(folder: str | Path, config: dict) -> None:
    """``config_changes``, then the record in ``folder``: the config and each change."""
    changed = config_changes(folder, config)
    path = Path(folder) / RUN_CONFIG
    if changed or not path.is_file():
        stored = json.loads(path.read_text()) if path.is_file() else {"changes": []}
        stored["changes"] += [changed] if changed else []
        stored["config"] = compared(folder, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(stored, indent=1) + "\n")


def in_use(folder: str | Path) -> None:
    """FolderInUse where another process holds ``folder`` (``hold``); creates nothing."""
    lock = Path(folder) / ".lock"
    if not lock.is_file():
        return
    with lock.open() as file:
        try:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderInUse(Path(folder), file.read().strip()) from None


def validates_after(trainer, batch_idx: int) -> bool:
    """True when validation or the end of the epoch follows this training batch."""
    if batch_idx + 1 >= trainer.num_training_batches:
        return True
    interval = trainer.val_check_batch
    return isinstance(interval, int) and interval > 0 and (batch_idx + 1) % interval == 0


def readable(path: Path) -> int | None:
    """The global step of a plain checkpoint (it loads with ``weights_only=True``), else None."""
    try:
        return int(load_plain(path)["global_step"])
    except (CheckpointError, KeyError, TypeError, ValueError):  # torn, foreign, pickled code
        return None


def newest(dirpath: str | Path) -> Path | None:
    """The newest resume checkpoint in ``dirpath`` (by its sequence number), unread.

    A kill leaves no torn file under this name: ``save`` writes to a ``.partial`` name and
    renames, so a kill between the rename and the clean-up leaves two whole checkpoints.
    """
    return max(Path(dirpath).glob(f"*{SUFFIX}"), key=sequence, default=None)


def resume_point(dirpath: str | Path) -> Path | None:
    """The newest resume checkpoint; one that is not a plain checkpoint is refused, not
    skipped (it was put there, and resuming from an older one would hide it)."""
    path = newest(dirpath)
    if path is not None and readable(path) is None:
        raise ConfigError(
            "resume checkpoint",
            str(path),
            "a plain checkpoint that loads with weights_only=True (move this file away to "
            "resume from an older one or start afresh)",
        )
    return path


def sequence(path: Path) -> int:
    stem = path.stem.split("-")[0]
    return int(stem) if stem.isdigit() else -1


class ResumeCheckpoint(Callback):
    @checked
    def __init__(self, dirpath: str, every_n_train_steps: PositiveInt = 100):
        self.dirpath = Path(dirpath)
        self.every = every_n_train_steps
        self.count = 0  # checkpoints written by this run, resumed attempts included
        self.last_step = 0  # the step of the newest one
        self.final_metrics: dict[str, float] | None = None  # restored from a finished run
        self.start_step = 0  # the global step this attempt starts from

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self.start_step = checkpoint["global_step"]

    def on_fit_start(self, trainer, pl_module) -> None:
        """The CSV log keeps the rows the checkpoint resumed from covers (module docstring).
        A fresh start drops the best and last checkpoints an earlier attempt in its folder
        left (Lightning would keep them beside its own, as a best and a ``last-v1``)."""
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                keep_rows_before(logger, self.start_step)
        root = Path(trainer.default_root_dir).resolve()
        for callback in trainer.checkpoint_callbacks if self.start_step == 0 else ():
            folder = Path(callback.dirpath or root).resolve()
            if folder.is_relative_to(root):  # never a folder outside the run's
                for stale in folder.glob(f"*{SUFFIX}"):
                    stale.unlink()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        due = trainer.global_step - self.last_step >= self.every
        if due and not validates_after(trainer, batch_idx):
            self.last_step = trainer.global_step
            self.save(trainer, f"step{trainer.global_step}")

    def on_train_end(self, trainer, pl_module):
        self.final_metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}

    def on_fit_end(self, trainer, pl_module):
        if trainer.global_step > self.start_step:  # this attempt trained (it may resume an end)
            self.save(trainer, "end")

    def save(self, trainer, label: str) -> None:
        """Write atomically, then drop the older ones (rank 0 writes; all ranks take part)."""
        self.count += 1
        path = self.dirpath / f"{self.count:06d}-{label}{SUFFIX}"
        for logger in trainer.loggers:  # the rows this checkpoint covers go to disk first
            logger.save()
        partial = path.with_name(f".{path.name}.partial")
        trainer.save_checkpoint(partial, weights_only=False)  # all of it: weights and state
        if trainer.is_global_zero:
            os.replace(partial, path)
            for old in self.dirpath.glob(f"*{SUFFIX}"):
                if sequence(old) < self.count:
                    old.unlink(missing_ok=True)

    def state_dict(self) -> dict:
        return {
            "count": self.count,
            "last_step": self.last_step,
            "final_metrics": self.final_metrics,
        }

    def load_state_dict(self, state: dict) -> None:
        self.count, self.last_step = state["count"], state["last_step"]
        self.final_metrics = state.get("final_metrics")


# --- Save the random number generators with every checkpoint, restore them on resume.
#
# Training draws from the global RNGs (sampled initial states, noise); a run
# resumed from a checkpoint continues those draws exactly where they stopped.
# Stored as tensors and numbers only, so checkpoints still load with
# ``torch.load(weights_only=True)``.


class RNGState(Callback):
    def state_dict(self) -> dict:
        version, python_keys, gauss = random.getstate()
        _, numpy_keys, position, has_gauss, cached = np.random.get_state()
        state = {
            "torch": torch.get_rng_state(),
            "python": (version, torch.tensor(python_keys, dtype=torch.int64), gauss),
            "numpy": (torch.from_numpy(numpy_keys.astype(np.int64)), position, has_gauss, cached),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        version, python_keys, gauss = state["python"]
        random.setstate((version, tuple(python_keys.tolist()), gauss))
        numpy_keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state(
            ("MT19937", numpy_keys.numpy().astype(np.uint32), position, has_gauss, cached)
        )
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


# --- How a run ended, recorded where a user looks: ``status.json`` in the run folder and W&B.
#
# ``finished`` (with the epochs trained and whether a callback stopped it early),
# ``interrupted`` (Ctrl-C, SIGTERM) or ``failed`` (a NaN loss or any other error), with the
# reason in one line. W&B gets the same in the run's summary (``status``,
# ``status_reason``) and a non-zero exit code, so its dashboard shows the run as failed.
# ``summaries`` (metric -> ``min`` or ``max``) sets the summary W&B keeps for a metric: the
# best value, which a dashboard sorts runs by, instead of the last one.
# A resumed run reads ``status.json`` to tell a finished run from an unfinished one.
#
# This callback records what stops training; ``train.train`` records ``finished``
# once the run's metrics are written, so that a run killed in between is not taken for
# a finished one.

STATUS = "status.json"


def read_status(output_dir: str | Path) -> dict:
    path = Path(output_dir) / STATUS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_status(output_dir: str | Path, status: dict) -> None:
    write_atomically(Path(output_dir) / STATUS, json.dumps(status, indent=1) + "\n")


def entry(trainer, status: str, reason: str = "", **extra) -> dict:
    return {
        "status": status,
        "reason": reason,
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        **extra,
    }


def finished_status(trainer) -> dict:
    """The ``finished`` entry for a trainer whose fit returned."""
    limit = trainer.max_epochs
    stopped = limit is not None and limit >= 0 and trainer.current_epoch < limit
    return entry(trainer, "finished", max_epochs=limit, stopped_early=bool(stopped))


class RunStatus(Callback):
    @checked
    def __init__(self, summaries: dict[str, Literal["min", "max"]] | None = None):
        self.summaries = dict(summaries or {})

    def setup(self, trainer, pl_module, stage: str) -> None:
        define_summaries(trainer, self.summaries)  # the loggers' runs have started

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if not trainer.is_global_zero:
            return
        interrupted = isinstance(exception, KeyboardInterrupt) or trainer.received_sigterm
        status, reason = "interrupted" if interrupted else "failed", one_line(exception)
        write_status(trainer.default_root_dir, entry(trainer, status, reason))
        update_summary(trainer, {"status": status, "status_reason": reason})
