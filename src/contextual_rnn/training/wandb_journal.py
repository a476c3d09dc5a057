"""A write-ahead journal of the rows a run logs to W&B, so that a kill loses none.

W&B writes a run's rows to its ``.wandb`` file from a separate process, in blocks: a
run killed with SIGKILL leaves a file without the rows logged before the kill, even
those a checkpoint already covers, which a resumed run does not log again. So every
row is first appended to ``<run>/wandb/journal/rows.jsonl`` (images hard-linked next
to it), and a resumed run logs again, under their original steps, the journaled rows
its checkpoint covers that no earlier W&B file holds. The journal is deleted when
the run finishes (W&B then has every row on disk).
"""

import json
import os
import shutil
from pathlib import Path

JOURNAL = "rows.jsonl"


class RowJournal:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL
        self._file = None

    def append(self, entry: dict) -> None:
        """Append one row; it is on disk (the page cache outlives the process) on return."""
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a")
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()

    def keep_file(self, source: str | Path, step: int) -> str:
        """A journal copy of a media file (a hard link where the file system allows)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{step:07d}-{Path(source).name}"
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        return str(target)

    def entries(self) -> list[dict]:
        """The rows journaled so far; a line torn by a kill ends the list."""
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                break
        return rows

    def truncate(self, rows: int) -> list[dict]:
        """Keep the entries of the first ``rows`` steps (what a checkpoint covers); return them."""
        self.close()
        kept = [e for e in self.entries() if e["step"] < rows]
        if self.path.is_file():
            self.path.write_text("".join(json.dumps(e) + "\n" for e in kept))
        return kept

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def delete(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
