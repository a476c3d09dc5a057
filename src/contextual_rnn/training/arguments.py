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


def search_path(overrides: list) -> list[Path]:
    """Config folders added with ``hydra.searchpath=[file://...]`` (their options count too)."""
    folders = []
    for override in overrides:
        if override.key_or_group == "hydra.searchpath":
            for entry in override.value() or []:
                entry = str(entry)
                if entry.startswith("file://"):
                    folders.append(Path(entry.removeprefix("file://")))
    return folders


def group_options(config_dirs: list[Path], group: str) -> list[str] | None:
    """The options of a config group across the config folders, or None if it is no group."""
    folders = [d / group for d in config_dirs if (d / group).is_dir()]
    if group.startswith("hydra") or not folders:
        return None
    return sorted({p.stem for folder in folders for p in folder.glob("*.yaml")})


def bad_group_choice(argv: list[str], config_dir: Path) -> str | None:
    """The one-line complaint about the first unknown group choice in argv, or None."""
    parsed = OverridesParser.create().parse_overrides(split_arguments(argv)[1])
    config_dirs = [config_dir, *search_path(parsed)]
    for override in parsed:
        group = override.key_or_group
        options = group_options(config_dirs, group)
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


def bad_syntax(overrides: list[str]) -> str:
    """The first override Hydra cannot parse, with its reason."""
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException as error:
            reason = str(error).splitlines()[-1].split(" See https")[0].strip()
            return f"{override} is not a valid override: {reason}"
    return "the overrides cannot be parsed"


def bad_composition(argv: list[str], config_dir: Path) -> str | None:
    """Hydra's complaint, in one line, if the overrides do not compose (an unknown key, a
    syntax error); a sweep is tried with the first value of each swept override."""
    from hydra.errors import HydraException

    from contextual_rnn.training.compose import compose_config

    try:
        parsed = OverridesParser.create().parse_overrides(split_arguments(argv)[1])
        first = [
            f"{o.input_line.split('=', 1)[0]}={next(iter(o.sweep_string_iterator()))}"
            if o.is_sweep_override() and o.value_type is not None and not o.is_hydra_override()
            else o.input_line
            for o in parsed
            if not o.is_hydra_override() or o.key_or_group == "hydra.searchpath"
        ]
        compose_config(first, config_dir=config_dir)
    except (HydraException, OverrideParseException) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith(("full_key:", "object_type="))]
        return " ".join(lines[:2]) if lines else type(error).__name__
    return None


def check_arguments(argv: list[str], config_dir: Path) -> None:
    """Exit with one line and code 2 on an unknown group choice, a file given as a folder,
    or overrides that do not compose."""
    try:
        problem = bad_group_choice(argv, Path(config_dir)) or bad_folder(argv)
    except OverrideParseException:
        problem = bad_syntax(split_arguments(argv)[1])
    problem = problem or bad_composition(argv, Path(config_dir))
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
