"""What a run folder already holds, so a restarted run continues it in the same W&B run."""

from pathlib import Path


def existing_wandb_id(output_dir: str | Path) -> str | None:
    """The id of the W&B run already written in this folder (``*run-<time>-<id>``)."""
    runs = sorted(Path(output_dir).glob("wandb/*run-*-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None
