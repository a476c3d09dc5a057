"""The sweep's folder, ``outputs/<name>/multiruns/<time>``, named before any job runs.

``name`` is the experiment's, or, when the sweep varies what the name is made of, the
swept values joined with ``+`` (``-m model/cell=lstm,gru`` -> ``lcd_lstm+gru``). Hydra's
launchers resolve ``hydra.sweep.dir`` in the parent process, where the ``${hydra:...}``
values of the default name do not exist yet, and each job would resolve it again with
its own name; ``SweepFolder``, a Hydra callback (conf/hydra/default.yaml), fixes it for
all. A ``hydra.sweep.dir`` given on the command line is used as it is.
"""

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Quote, QuotedString
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, read_write

NAME_PARTS = ("data", "model/cell")  # what the default name is made of, in order


def swept_values(config: DictConfig) -> dict[str, list[str]]:
    """key -> values, for every override of the command line that sweeps."""
    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    return {
        o.key_or_group: [str(v) for v in o.sweep_string_iterator()]
        for o in parsed
        if o.is_sweep_override()
    }


def sweep_name(config: DictConfig) -> str:
    """The name a sweep's folder carries (see the module docstring)."""
    swept = swept_values(config)
    for key in ("name", "experiment"):
        if key in swept:
            return "+".join(swept[key])
    raw = OmegaConf.to_container(config, resolve=False).get("name")
    if isinstance(raw, str) and "${hydra:" not in raw:
        return str(config.name)  # an experiment's own name
    choices = config.hydra.runtime.choices
    return "_".join("+".join(swept.get(part, [str(choices[part])])) for part in NAME_PARTS)


class SweepFolder(Callback):
    """Fixes ``hydra.sweep.dir`` for the parent and every job before the sweep starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        hydra_overrides = list(config.hydra.overrides.hydra)
        if any(o.lstrip("+").startswith("hydra.sweep.dir=") for o in hydra_overrides):
            return
        with read_write(config):
            config.name = sweep_name(config)
            folder = str(config.hydra.sweep.dir)
            config.hydra.sweep.dir = folder
            quoted = QuotedString(text=folder, quote=Quote.single).with_quotes()
            config.hydra.overrides.hydra.append(f"hydra.sweep.dir={quoted}")
