"""Errors a user can fix, each one line: the key, the value, what is allowed.

A configurable class declares its options once, as the typed signature of its
constructor; ``@checked`` has pydantic check the arguments against it, and
``check_options`` checks a config node against it without building anything. The
types say in words what they allow (``Allowed``), which is what the one-line error
says: ``ConfigError`` carries the key relative to its node; whoever knows where the
node lives re-raises it under the full key (``config_scope``). ``InputError`` is
malformed input to a command (a query, a context, a size).
"""

import functools
import inspect
import types
import typing
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Lt
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Strict,
    ValidationError,
    create_model,
)


class ConfigError(ValueError):
    """A configuration value that cannot work."""

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not allowed: expected {allowed}")

    def under(self, prefix: str) -> "ConfigError":
        return ConfigError(f"{prefix}.{self.key}" if prefix else self.key, self.value, self.allowed)


class InputError(ValueError):
    """Malformed input to a command; the message is one line."""


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


def is_number(value: object) -> bool:
    """A number, or text that reads as one (``-1``, ``nan``); not a bool."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


# --- the types options are declared with ---------------------------------------------------


@dataclass(frozen=True)
class Allowed:
    """What a type allows, in the words of its one-line error (``Annotated`` metadata)."""

    text: str


def integer(allowed: str, *constraints) -> Any:
    """An int (not a bool, not a float) meeting ``constraints``."""
    return Annotated[(int, Strict(), *constraints, Allowed(allowed))]


def number(allowed: str, *constraints) -> Any:
    """A finite int or float (not a bool) meeting ``constraints``."""
    return Annotated[(float, Strict(), AllowInfNan(False), *constraints, Allowed(allowed))]


def that(predicate, allowed: str = "") -> AfterValidator:
    """A check of the whole value; its error says ``allowed`` (default: the type's words)."""

    def check(value):
        if not predicate(value):
            raise ValueError(allowed)
        return value

    return AfterValidator(check)


PositiveInt = integer("a positive integer", Gt(0))
PositiveInts = Annotated[list[PositiveInt], Allowed("a list of positive integers")]
Seed = integer("an integer from 0 to 2**32 - 1", Ge(0), Lt(2**32))  # numpy's seeds are 32-bit
FiniteFloat = number("a finite number")
NonNegative = number("a finite number >= 0.0", Ge(0))
PositiveFloat = number("a finite number > 0", Gt(0))
Flag = Annotated[bool, Strict(), Allowed("true or false")]


# --- checking values against them ----------------------------------------------------------


@functools.cache
def schema(function, provided: frozenset = frozenset(), typed: bool = True) -> type[BaseModel]:
    """A pydantic model of ``function``'s parameters, but ``self`` and those in ``provided``
    (the caller's, not the config's). ``typed=False``: names only (another library's class)."""
    function = inspect.unwrap(function)
    hints = typing.get_type_hints(function, include_extras=True) if typed else {}
    fields, extra = {}, "forbid"
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            extra = "allow" if parameter.kind == parameter.VAR_KEYWORD else extra
        elif name != "self" and name not in provided:
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[name] = (hints.get(name, Any), default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True)
    return create_model(function.__qualname__, __config__=config, **fields)


def validate(model: type[BaseModel], values: dict, key: str = "") -> BaseModel:
    """``values`` checked against ``model``; the first problem is one ConfigError under ``key``."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise config_error(model, values, error.errors()[0]).under(key) from None


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


def config_error(model: type[BaseModel], values: dict, error: dict) -> ConfigError:
    """The ConfigError for one of pydantic's errors: the key down to the part whose type
    says what it allows, the value the user gave there, and those words."""
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        return ConfigError(
            loc[0], error["input"], "one of its options: " + ", ".join(model.model_fields)
        )
    if kind == "missing":
        if len(loc) == 1:
            return ConfigError(loc[0], None, "a value: this option has no default")
        loc = loc[:-1]  # a tuple too short: the tuple is at fault
    annotation = typing.get_type_hints(model, include_extras=True).get(loc[0])
    depth, allowed, said = len(loc), error["msg"].removeprefix("Input should be "), False
    for i, part in enumerate(loc):
        annotation = annotation if i == 0 else element(annotation, part)
        if annotation is None:
            break
        words, explicit = allowed_words(annotation)
        if words and (explicit or not said):  # a Literal's choices only where nothing outer says
            depth, allowed, said = i + 1, words, said or explicit
    if kind == "value_error" and str(error["ctx"]["error"]):
        allowed = str(error["ctx"]["error"])
    key = str(loc[0]) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:depth])
    return ConfigError(key, lookup(values, loc[:depth], error["input"]), allowed)


def without_none(annotation):
    """``X | None`` -> ``X``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def allowed_words(annotation) -> tuple[str | None, bool]:
    """What a type allows in words and whether it says so itself (``Allowed``) rather than
    by its choices (a ``Literal``)."""
    annotation = without_none(annotation)
    if typing.get_origin(annotation) is Annotated:
        found = [m.text for m in annotation.__metadata__ if isinstance(m, Allowed)]
        return (found[-1], True) if found else allowed_words(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(annotation))), False
    return None, False


def element(annotation, part):
    """The type of item ``part`` of a list, tuple or dict type, else None."""
    annotation = without_none(annotation)
    if typing.get_origin(annotation) is Annotated:
        annotation = without_none(typing.get_args(annotation)[0])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is tuple and args and isinstance(part, int):
        return args[0] if args[-1] is Ellipsis else args[min(part, len(args) - 1)]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def lookup(values, path, default):
    for part in path:
        try:
            values = values[part]
        except (KeyError, IndexError, TypeError):
            return default
    return values
