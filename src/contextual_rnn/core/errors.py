"""Errors a user can fix, each reported as one line: the key, the value, what is allowed.

Constructors raise ``ConfigError`` with the key relative to their own config node;
whoever knows where that node lives re-raises it with the full key (``config_scope``).
``InputError`` is malformed input to a command (a query, a context, a size).
"""

import inspect
import math
import re
from contextlib import contextmanager


class ConfigError(ValueError):
    """A configuration value that cannot work."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: expected {allowed}")

    def under(self, prefix: str) -> "ConfigError":
        return ConfigError(f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed)


class InputError(ValueError):
    """Malformed input to a command; the message is one line."""


def require(condition: bool, key: str, value: object, allowed: str) -> None:
    """Raise ConfigError(key, value, allowed) unless condition holds."""
    if not condition:
        raise ConfigError(key, value, allowed)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def positive_int(key: str, value: object) -> int:
    require(is_int(value) and value > 0, key, value, "a positive integer")
    return value


def finite_number(key: str, value: object, low: float | None = None, high: float | None = None):
    """A finite number within [low, high] (either bound may be open-ended)."""
    allowed = "a finite number" + (
        f" in [{low}, {high}]"
        if low is not None and high is not None
        else f" >= {low}"
        if low is not None
        else f" <= {high}"
        if high is not None
        else ""
    )
    require(is_number(value) and math.isfinite(value), key, value, allowed)
    require((low is None or value >= low) and (high is None or value <= high), key, value, allowed)
    return float(value)


def one_of(key: str, value: object, options) -> object:
    require(value in options, key, value, "one of " + ", ".join(map(str, options)))
    return value


def unexpected_keyword(error: TypeError) -> str | None:
    """The name in ``f() got an unexpected keyword argument 'name'``, else None."""
    match = re.search(r"unexpected keyword argument '(\w+)'", str(error))
    return match.group(1) if match else None


def construct(cls, key: str, options: dict, **provided):
    """``cls(**options, **provided)``; an unknown option is reported as a ConfigError.

    ``options`` come from the config node at ``key``; ``provided`` from the caller
    (an input size, the cell), so they are not offered as choices in the message.
    """
    try:
        with config_scope(key):
            return cls(**options, **provided)
    except TypeError as error:
        name = unexpected_keyword(error)
        if name is None or name not in options:
            raise
        known = [p for p in inspect.signature(cls).parameters if p not in provided]
        raise ConfigError(
            f"{key}.{name}" if key else name,
            options[name],
            "one of its options: " + ", ".join(known),
        ) from None


@contextmanager
def config_scope(prefix: str):
    """Re-raise ConfigErrors raised inside under ``prefix``."""
    try:
        yield
    except ConfigError as error:
        raise error.under(prefix) from None


def positive_ints(key: str, values: object) -> list[int]:
    """A list of positive integers (hidden layer sizes); [] is allowed."""
    require(isinstance(values, list | tuple), key, values, "a list of positive integers")
    return [positive_int(f"{key}[{i}]", v) for i, v in enumerate(values)]


def positive_number(key: str, value: object) -> float:
    require(
        is_number(value) and math.isfinite(value) and value > 0, key, value, "a finite number > 0"
    )
    return float(value)
