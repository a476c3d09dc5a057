"""The package's layers point one way: the model (model/) and its tasks (tasks/) import
neither the training modules nor analysis; analysis reads run folders and does not import
training (training may read what the study reports of a task, ``analysis.report``)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "contextual_rnn"
TRAINING = tuple(
    f"contextual_rnn.{name}"
    for name in ("train", "config", "resume", "callbacks", "loggers", "sweeps")
)
ANALYSIS = ("contextual_rnn.analysis",)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def offenders(paths: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(path) if m in forbidden or m.startswith(forbidden)
        )
        for path in paths
    }
    return {name: modules for name, modules in found.items() if modules}


@pytest.mark.parametrize(
    "layer,forbidden,at_least",
    [
        ("model", TRAINING + ANALYSIS, 4),
        ("tasks", TRAINING + ANALYSIS, 4),
        ("analysis", TRAINING, 4),
    ],
)
def test_a_layer_imports_nothing_from_the_layers_it_must_not_know(layer, forbidden, at_least):
    paths = sorted((PACKAGE / layer).rglob("*.py"))
    assert len(paths) >= at_least  # every module of the layer was read
    assert offenders(paths, forbidden) == {}


def test_the_check_names_a_module_that_imports_a_forbidden_one():
    module = PACKAGE / "callbacks.py"
    assert offenders([module], ("contextual_rnn.figures",)) == {
        "callbacks.py": ["contextual_rnn.figures"]
    }
