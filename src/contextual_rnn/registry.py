"""The classes a config may name, and building them from a config node.

Cells, initial states and tasks register themselves by their import path when their
class is defined (``Registered``). A config node ``{_target_: path, **options}`` is
built only if ``path`` names a registered class of the expected kind; its options
must be plain values. That is what makes loading a checkpoint safe: the stored
configs can name the project's own classes (and any the user imported), never a
function to call. Optimizers come from a fixed list.

``trusted=True`` (training from the user's own config files) may import the module a
target names to register its class; otherwise only modules of this package are
imported, and only to find the class, never to call anything else.
"""

import contextlib
import importlib
import inspect

import torch
from pydantic import BaseModel, ConfigDict

from contextual_rnn.errors import (
    ConfigError,
    NonNegative,
    check_options,
    config_scope,
    validate,
)

REGISTRY: dict[str, type] = {}
PACKAGE = "contextual_rnn."

# The optimizers a config may name (docs/paper_setup.md uses Adam).
OPTIMIZERS = {
    f"torch.optim.{cls.__name__}": cls
    for cls in (
        torch.optim.Adam,
        torch.optim.AdamW,
        torch.optim.SGD,
        torch.optim.RMSprop,
        torch.optim.NAdam,
        torch.optim.RAdam,
        torch.optim.Adagrad,
    )
}
HYDRA_KEYS = ("_partial_", "_args_", "_recursive_", "_convert_")


class OptimizerOptions(BaseModel):
    """What every optimizer's options are checked for here; torch checks the rest."""

    model_config = ConfigDict(extra="allow")
    lr: NonNegative = 1e-3
    weight_decay: NonNegative = 0.0


class Registered:
    """Subclasses register under ``module.QualName``, the path a config's ``_target_`` uses.

    A shared base that is not itself an option is declared with ``register=False``.
    """

    def __init_subclass__(cls, register: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        if register:
            REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls


def registered(base: type) -> list[str]:
    return sorted(path for path, cls in REGISTRY.items() if issubclass(cls, base))


def resolve(target: object, base: type, key: str, trusted: bool = False) -> type:
    """The registered subclass of ``base`` that ``target`` names, or a ConfigError."""
    allowed = "a registered " + base.__name__ + ": " + ", ".join(registered(base))
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{key}._target_", target, allowed)
    cls = REGISTRY.get(target)
    if cls is None and (trusted or target.startswith(PACKAGE)) and "." in target:
        with contextlib.suppress(ImportError):  # an unknown module: the target is unknown
            importlib.import_module(target.rsplit(".", 1)[0])
        cls = REGISTRY.get(target)
    if cls is None or not issubclass(cls, base):
        raise ConfigError(f"{key}._target_", target, allowed)
    return cls


def plain_options(node: dict, key: str) -> dict:
    """The node's options without ``_target_``; refuses anything that names code."""
    options = {}
    for name, value in node.items():
        if name == "_target_":
            continue
        if name in HYDRA_KEYS:
            raise ConfigError(f"{key}.{name}", value, "plain options only")
        check_plain(value, f"{key}.{name}")
        options[name] = value
    return options


def check_plain(value: object, key: str) -> None:
    """Plain values only: numbers, strings, booleans, None, and lists/dicts of them."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name in ("_target_", *HYDRA_KEYS):
                raise ConfigError(f"{key}.{name}", item, "a plain value, not an object to build")
            check_plain(item, f"{key}.{name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_plain(item, f"{key}[{i}]")
    elif not (value is None or isinstance(value, bool | int | float | str)):
        raise ConfigError(key, type(value).__name__, "a plain value")


def check(node: dict, base: type, key: str, trusted: bool = False, provided=()) -> type:
    """The registered class ``node['_target_']`` names, its options checked, nothing built."""
    if not isinstance(node, dict):
        raise ConfigError(key, node, "a config node with a _target_")
    cls = resolve(node.get("_target_"), base, key, trusted)
    check_options(cls, plain_options(node, key), key, provided)
    return cls


def build(node: dict, base: type, key: str, trusted: bool = False, **provided):
    """An instance of the registered class ``node['_target_']`` names, with its options
    (checked by its constructor)."""
    if not isinstance(node, dict):
        raise ConfigError(key, node, "a config node with a _target_")
    cls = resolve(node.get("_target_"), base, key, trusted)
    with config_scope(key):
        return cls(**plain_options(node, key), **provided)


def build_optimizer(node: dict, parameters, key: str) -> torch.optim.Optimizer:
    """The optimizer the node names. One that has a fused implementation (Adam, AdamW, SGD:
    one kernel for all parameters, the same update) gets it unless the node says
    ``fused: false``: on CPU it is three times faster than the per-tensor loop at ART's
    sizes (docs/performance.md)."""
    target = node.get("_target_") if isinstance(node, dict) else node
    if target not in OPTIMIZERS:
        raise ConfigError(f"{key}._target_", target, "one of " + ", ".join(OPTIMIZERS))
    options = plain_options(node, key)
    validate(OptimizerOptions, options, key)
    cls = OPTIMIZERS[target]
    check_options(cls, options, key, provided={"params"}, typed=False)
    if "fused" in inspect.signature(cls).parameters and options.get("fused") is None:
        options["fused"] = True
    try:
        return cls(parameters, **options)
    except Exception as error:  # noqa: BLE001 - the optimizer's own checks (betas, eps, ...)
        raise ConfigError(
            key, options, f"options it accepts: {' '.join(str(error).split())}"
        ) from None
