"""Errors a user can fix, each one line: the key, the value, what is allowed.

A configurable class declares its options once, as the typed signature of its
constructor; ``@checked`` has pydantic check the arguments against it, and
``check_options`` checks a config node against it without building anything. The
types say in words what they allow (``allowed``), which is what the one-line error
says: ``ConfigError`` carries the key relative to its node; whoever knows where the
node lives re-raises it under the full key (``config_scope``). ``InputError`` is
malformed input to a trained model (a query). ``check_memory`` bounds what a run, or a
trained model's data, may ask of this machine's memory.
"""

import functools
import inspect
import os
import typing
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Lt
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Strict,
    ValidationError,
    WrapValidator,
    create_model,
)
from pydantic_core import PydanticCustomError

# What a run's data, or its training state, may take of this machine's memory.
MEMORY_FRACTION = 0.5


class ConfigError(ValueError):
    """A configuration value that cannot work."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: expected {allowed}")

    def under(self, prefix: str) -> "ConfigError":
        return ConfigError(f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed)


class InputError(ValueError):
    """Malformed input to a trained model; the message is one line."""


@contextmanager
def config_scope(prefix: str):
    """Re-raise ConfigErrors raised inside under ``prefix``."""
    try:
        yield
    except ConfigError as error:
        raise error.under(prefix) from None


def one_line(error: BaseException, limit: int | None = None) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


# --- the types options are declared with ---------------------------------------------------


def allowed(words: str) -> WrapValidator:
    """Metadata of an ``Annotated`` type: any value it refuses is refused with ``words``
    (but what a list's or tuple's item refuses in words of its own)."""

    def refuse_in_words(value, handler):
        try:
            return handler(value)
        except ValidationError as error:
            first = error.errors()[0]
            if first["type"] == "allowed" and first["loc"] and isinstance(first["loc"][0], int):
                raise
            raise PydanticCustomError("allowed", words) from None

    return WrapValidator(refuse_in_words)


def that(predicate, words: str = "") -> AfterValidator:
    """A check of the whole value; refused with ``words``, or with the type's."""

    def check(value):
        if not predicate(value):
            raise ValueError(words)
        return value

    return AfterValidator(check)


def integer(words: str, *constraints) -> Any:
    """An int (not a bool, not a float) meeting ``constraints``."""
    return Annotated[(int, Strict(), *constraints, allowed(words))]


def number(words: str, *constraints) -> Any:
    """A finite int or float (not a bool) meeting ``constraints``."""
    return Annotated[(float, Strict(), AllowInfNan(False), *constraints, allowed(words))]


def choice(*options: str) -> Any:
    return Annotated[Literal[options], allowed("one of " + ", ".join(options))]


PositiveInt = integer("a positive integer", Gt(0))
PositiveInts = Annotated[list[PositiveInt], allowed("a list of positive integers")]
Seed = integer("an integer from 0 to 2**32 - 1", Ge(0), Lt(2**32))  # numpy's seeds are 32-bit
FiniteFloat = number("a finite number")
NonNegative = number("a finite number >= 0.0", Ge(0))
PositiveFloat = number("a finite number > 0", Gt(0))
Flag = Annotated[bool, Strict(), allowed("true or false")]


# --- checking values against them ----------------------------------------------------------


@functools.cache
def schema(function, provided: frozenset = frozenset(), typed: bool = True) -> type[BaseModel]:
    """A pydantic model of ``function``'s parameters, but ``self`` and those in ``provided``
    (the caller's, not the config's). ``typed=False``: names only (another library's class)."""
    function = inspect.unwrap(function)
    try:
        hints = typing.get_type_hints(function, include_extras=True) if typed else {}
    except NameError:  # an annotation that names what only a type checker imports
        hints = {}
    fields, extra = {}, "forbid"
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind == parameter.VAR_KEYWORD:
            extra = "allow"
        elif name != "self" and name not in provided and parameter.kind != parameter.VAR_POSITIONAL:
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[name] = (hints.get(name, Any), default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True)
    return create_model(function.__qualname__, __config__=config, **fields)


def validate(model: type[BaseModel], values: dict, key: str = "") -> BaseModel:
    """``values`` checked against ``model``; the first problem is one ConfigError under ``key``."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise config_error(model, error.errors()[0]).under(key) from None


def check_options(cls: type, options: dict, key: str = "", provided=(), typed: bool = True):
    """A config node's options checked against ``cls``'s constructor, nothing built."""
    return validate(schema(cls.__init__, frozenset(provided), typed), options, key)


def checked(init):
    """Check a constructor's arguments against its typed signature before it runs."""
    names = [p.name for p in inspect.signature(init).parameters.values() if p.kind <= 1][1:]

    @functools.wraps(init)
    def check_then_init(self, *args, **kwargs):
        validate(schema(init), {**dict(zip(names, args, strict=False)), **kwargs})
        init(self, *args, **kwargs)

    return check_then_init


def config_error(model: type[BaseModel], error: dict) -> ConfigError:
    """One of pydantic's errors as a ConfigError: the key, the value, what is allowed."""
    loc, kind, value = error["loc"], error["type"], error["input"]
    key = str(loc[0]) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    if kind == "extra_forbidden":
        return ConfigError(key, value, "one of its options: " + ", ".join(model.model_fields))
    if kind == "missing":
        return ConfigError(key, None, "a value: this option has no default")
    if kind == "value_error":  # a check that says what it allows (``that``)
        return ConfigError(key, value, str(error["ctx"]["error"]))
    return ConfigError(key, value, error["msg"].removeprefix("Input should be "))


# --- what a run may ask of this machine ----------------------------------------------------


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(key: str, value: object, needed: float, what: str) -> None:
    """Refuse ``needed`` bytes above MEMORY_FRACTION of this machine's memory (``what`` fits)."""
    limit = MEMORY_FRACTION * memory_bytes()
    if needed > limit:
        gib = f"{needed / 2**30:,.1f} GiB needed, {limit / 2**30:,.1f} GiB allowed"
        raise ConfigError(
            key, value, f"{what} in memory ({gib}: {MEMORY_FRACTION:g} of this machine's)"
        )


def meta_splits(task) -> dict[str, dict] | None:
    """A task's training and validation splits generated on torch's meta device, which
    allocates nothing; None for a task whose generation needs the values (``.item()`` on a
    meta tensor fails)."""
    import torch

    try:
        with torch.device("meta"):
            return {split: task.generate(split, torch.Generator()) for split in ("train", "val")}
    except (RuntimeError, NotImplementedError):
        return None


def split_bytes(splits: dict[str, dict] | None) -> int:
    """The bytes of ``meta_splits``, raw and encoded (0 where they are unknown)."""
    batches = (splits or {}).values()
    return 2 * sum(tensor.nbytes for batch in batches for tensor in batch.values())
