"""Files a kill or a parallel job must never see half written: written aside, then renamed."""

import os
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: str | Path, write: Callable[[Path], object]) -> None:
    """``write`` the file under a name of this process beside ``path``, then rename it onto
    ``path``: a reader sees the old file or the new one, and a hard link to the old one
    keeps its content."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}{path.suffix}")  # savefig reads it
    write(partial)
    partial.replace(path)


def write_atomically(path: str | Path, text: str) -> None:
    replace_atomically(path, lambda partial: partial.write_text(text, newline=""))
