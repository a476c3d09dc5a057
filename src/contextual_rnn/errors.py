"""One exception type for bad configuration, reported as a single line."""

import re
from contextlib import contextmanager

from hydra.errors import InstantiationException


class ConfigError(ValueError):
    """A configuration value that cannot work.

    Raised by constructors with the key relative to their own config node; the
    builder that knows where the node lives re-raises it with the full key.
    """

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: expected {allowed}")

    def under(self, prefix: str) -> "ConfigError":
        return ConfigError(f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed)


def require(condition: bool, key: str, value: object, allowed: str) -> None:
    """Raise ConfigError(key, value, allowed) unless condition holds."""
    if not condition:
        raise ConfigError(key, value, allowed)


def positive_int(key: str, value: object) -> int:
    require(
        isinstance(value, int) and not isinstance(value, bool) and value > 0,
        key,
        value,
        "a positive integer",
    )
    return value


@contextmanager
def config_scope(prefix: str):
    """Re-raise ConfigErrors (also those wrapped by Hydra's instantiate) under ``prefix``.

    An unexpected keyword argument becomes a ConfigError naming the key too.
    """
    try:
        yield
    except ConfigError as error:
        raise error.under(prefix) from None
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ConfigError):
            raise cause.under(prefix) from None
        match = re.search(r"unexpected keyword argument '(\w+)'", str(cause or error))
        if match:
            raise ConfigError(f"{prefix}.{match.group(1)}", "...", "no such option here") from None
        raise
