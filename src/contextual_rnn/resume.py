"""Find what a run folder already holds, so a restarted run continues it.

A run restarted in its own folder (``hydra.run.dir=<run folder>``) continues from the
newest checkpoint there and appends to the same W&B run.
"""

from pathlib import Path

import torch


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The checkpoint with the most training steps (the newest file among equals)."""
    candidates = []
    for path in Path(output_dir).glob("checkpoints/**/*.ckpt"):
        try:
            step = torch.load(path, map_location="cpu", weights_only=True)["global_step"]
        except Exception:  # noqa: BLE001 - a file torn by the kill is skipped, not fatal
            continue
        candidates.append((step, path.stat().st_mtime, path))
    return max(candidates)[2] if candidates else None


def existing_wandb_id(output_dir: str | Path) -> str | None:
    """The id of the W&B run already written in this folder (``*run-<time>-<id>``)."""
    runs = sorted(Path(output_dir).glob("wandb/*run-*-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None
