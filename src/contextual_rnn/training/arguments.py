"""The command line around Hydra: flags moved first, Hydra's own complaints in one line.

Hydra composes the config once; when it cannot (an unknown group option, an unknown
key, an override it cannot parse) its message spans several lines and it exits with 1.
``hydra_errors_in_one_line`` lets Hydra raise instead (``HYDRA_FULL_ERROR``, read by
Hydra's ``run_and_report``) and says the same in one line with exit code 2, as for
every other bad input (``training.checks``).
"""

import sys
from contextlib import contextmanager
from typing import NoReturn

from hydra.core.utils import env_override
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

# Hydra's flags that take a value (``--info`` takes one optionally, from a fixed set).
VALUE_FLAGS = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name"}
VALUE_FLAGS |= {"-cd", "--config-dir", "--experimental-rerun"}
INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
BAD_CONFIG, CANNOT_WRITE = 2, 4


def flags_first(argv: list[str]) -> list[str]:
    """Hydra's flags (with their values) moved before the overrides, each in its order.

    argparse cannot collect overrides on both sides of a flag, so Hydra alone rejects
    ``train.py model/init=contextual data=lcd -m seed=0,1,2``; reordered, it runs.
    """
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
    return flags + overrides


def refuse(problem: str, code: int = BAD_CONFIG) -> NoReturn:
    """End the command: one line, exit code 2 (or ``code``)."""
    print(f"error: {problem}", file=sys.stderr)
    sys.exit(code)


def not_an_option(group: str, choice: str, options: list[str]) -> str:
    return f"{group}={choice} is not an option; allowed: {', '.join(options)}"


def composition_error(error: ConfigCompositionException | OverrideParseException) -> str:
    """Hydra's complaint about the command line, in one line."""
    if isinstance(error, MissingConfigException) and error.options is not None:
        group, _, choice = (error.missing_cfg_file or "").rpartition("/")
        return not_an_option(group, choice, error.options)
    if isinstance(error, OverrideParseException):
        reason = error.message.splitlines()[0].strip()
        return f"{error.override} is not a valid override: {reason}"
    override = str(error).removeprefix("Error merging override ")
    if isinstance(error.__cause__, OmegaConfBaseException) and override != str(error):
        kind = getattr(error.__cause__, "object_type", None)  # the type of the value there
        reason = str(error.__cause__).splitlines()[0]
        expected = f"a {kind.__name__}" if isinstance(kind, type) else "the type of its default"
        return f"{override} is not allowed: expected {expected} ({reason})"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(error).__name__


@contextmanager
def hydra_errors_in_one_line():
    """Hydra's composition errors inside end the command with one line and exit code 2."""
    try:
        with env_override({"HYDRA_FULL_ERROR": "1"}):  # raise, don't print: run_and_report
            yield
    except (ConfigCompositionException, OverrideParseException) as error:
        refuse(composition_error(error))
