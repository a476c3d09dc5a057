"""Pre-commit hygiene: trailing whitespace, missing final newline, merge markers.

Kept local so the hooks run without fetching any hook repository.
"""

import sys
from pathlib import Path


def problems(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line != line.rstrip():
            found.append(f"{path}:{number}: trailing whitespace")
        if line.startswith(("<<<<<<< ", ">>>>>>> ")):
            found.append(f"{path}:{number}: merge conflict marker")
    if text and not text.endswith("\n"):
        found.append(f"{path}: no newline at end of file")
    return found


if __name__ == "__main__":
    report = [p for name in sys.argv[1:] for p in problems(Path(name))]
    print("\n".join(report)) if report else None
    sys.exit(1 if report else 0)
