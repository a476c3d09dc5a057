"""The package's layers: core imports nothing from training or analysis."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "contextual_rnn"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_nothing_from_training_or_analysis():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m
            for m in imported_modules(path)
            if m.startswith(("contextual_rnn.training", "contextual_rnn.analysis"))
        )
        for path in (PACKAGE / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) > 20  # every core module was read


def test_analysis_does_not_run_training():
    for path in (PACKAGE / "analysis").rglob("*.py"):
        assert not any(m.startswith("contextual_rnn.training") for m in imported_modules(path)), (
            path
        )
