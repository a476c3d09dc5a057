"""Refuse an unknown config-group choice in one line, before Hydra composes anything.

Hydra's own message for ``model/cell=lstn`` spans several lines; this check names
the group, the bad value and the allowed options on one line and exits with 2.
Groups under ``hydra/`` are left to Hydra (plugins bring their own options).
"""

import sys
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser


def group_options(config_dir: Path, group: str) -> list[str] | None:
    folder = config_dir / group
    if group.startswith("hydra") or not folder.is_dir():
        return None
    return sorted(p.stem for p in folder.glob("*.yaml"))


def bad_group_choice(overrides: list[str], config_dir: Path) -> str | None:
    """The one-line complaint about the first unknown group choice, or None."""
    parsed = OverridesParser.create().parse_overrides([o for o in overrides if not o.startswith("-")])
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


def check_group_choices(argv: list[str], config_dir: Path) -> None:
    try:
        problem = bad_group_choice(argv, Path(config_dir))
    except Exception:  # a syntax error: let Hydra report it in its own words
        return
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
