"""The command line before Hydra sees it: flags moved first, bad choices refused.

Hydra's own message for ``model/cell=lstn`` spans several lines; this check names
the group, the bad value and the allowed options on one line and exits with 2, as it
does for a run or sweep folder where a file stands. Groups under ``hydra/`` are left
to Hydra (plugins bring their own options).
"""

import sys
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException

# Hydra's flags that take a value (``--info`` takes one optionally, from a fixed set).
VALUE_FLAGS = {
    "-c",
    "--cfg",
    "-p",
    "--package",
    "-cp",
    "--config-path",
    "-cn",
    "--config-name",
    "-cd",
    "--config-dir",
    "--experimental-rerun",
}
INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(Hydra's flags with their values, the overrides), each in its original order."""
    flags, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        takes_value = arg in VALUE_FLAGS or (
            arg == "--info" and i + 1 < len(argv) and argv[i + 1] in INFO_CHOICES
        )
        if arg.startswith("-"):
            flags += argv[i : i + 1 + takes_value]
            i += 1 + takes_value
        else:
            overrides.append(arg)
            i += 1
    return flags, overrides


def flags_first(argv: list[str]) -> list[str]:
    """Move Hydra's flags before the overrides.

    argparse cannot collect overrides on both sides of a flag, so Hydra alone rejects
    ``train.py model/init=contextual data=lcd -m seed=0,1,2``; reordered, it runs.
    """
    flags, overrides = split_arguments(argv)
    return flags + overrides


def group_options(config_dir: Path, group: str) -> list[str] | None:
    folder = config_dir / group
    if group.startswith("hydra") or not folder.is_dir():
        return None
    return sorted(p.stem for p in folder.glob("*.yaml"))


def bad_group_choice(argv: list[str], config_dir: Path) -> str | None:
    """The one-line complaint about the first unknown group choice in argv, or None."""
    parsed = OverridesParser.create().parse_overrides(split_arguments(argv)[1])
    for override in parsed:
        group = override.key_or_group
        options = group_options(config_dir, group)
        if options is None or override.is_delete():
            continue
        if override.is_sweep_override():
            values = list(override.sweep_string_iterator())
        else:
            values = [override.value()]
        for value in values:
            if value is not None and str(value) != "null" and str(value) not in options:
                return f"{group}={value} is not an option; allowed: {', '.join(options)}"
    return None


def bad_folder(argv: list[str]) -> str | None:
    """The complaint about a run or sweep folder given on the command line that is a file."""
    for override in OverridesParser.create().parse_overrides(split_arguments(argv)[1]):
        if override.key_or_group in ("hydra.run.dir", "hydra.sweep.dir"):
            path = Path(str(override.value()))
            if path.exists() and not path.is_dir():
                return (
                    f"{override.key_or_group}={path} is not allowed: "
                    "expected a folder: a file stands there"
                )
    return None


def check_arguments(argv: list[str], config_dir: Path) -> None:
    """Exit with one line and code 2 on an unknown group choice or a file given as a folder."""
    try:
        problem = bad_group_choice(argv, Path(config_dir)) or bad_folder(argv)
    except OverrideParseException:  # a syntax error: Hydra reports it in its own words
        return
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
