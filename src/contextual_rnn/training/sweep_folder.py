"""The sweep's folder, ``outputs/<name>/multiruns/<time>``, named before any job runs.

``name`` is the experiment's, or, when the sweep varies what the name is made of, the
swept values joined with ``+`` (``-m model/cell=lstm,gru`` -> ``lcd_lstm+gru``). Hydra's
launchers resolve ``hydra.sweep.dir`` in the parent process, where the ``${hydra:...}``
values of the default name do not exist yet, and each job would resolve it again with
its own name; ``SweepFolder``, a Hydra callback (conf/hydra/default.yaml), fixes it for
all. A ``hydra.sweep.dir`` given on the command line is used as it is.

It also tells the jobs what W&B should call them: one group per sweep, the sweep's name
and its folder's stamp (``lcd_lstm-2026-01-31_12-00-00_000000``; W&B's own
``WANDB_RUN_GROUP``, which conf/logger/wandb.yaml reads, so ``logger.wandb.group=...``
still wins), and run names made of what the sweep varies: the overrides that do not
vary are excluded from ``hydra.job.override_dirname``'s overrides
(``hydra.job.config.override_dirname.exclude_keys``), which ``${run_name:}``
(training/resolvers.py) reads.
"""

import os
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Quote, QuotedString
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

NAME_PARTS = ("data", "model/cell")  # what the default name is made of, in order
GROUP = "WANDB_RUN_GROUP"  # W&B's variable for a run's group


def swept_values(config: DictConfig) -> dict[str, list[str]]:
    """key -> values, for every override of the command line that sweeps."""
    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    return {
        o.key_or_group: [str(v) for v in o.sweep_string_iterator()]
        for o in parsed
        if o.is_sweep_override() and not o.is_interval_sweep()  # Optuna samples an interval
    }


def fixed_keys(config: DictConfig) -> list[str]:
    """The keys of the command line's overrides that every job shares."""
    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    return [o.key_or_group for o in parsed if not o.is_sweep_override()]


def quoted(text: str) -> str:
    return QuotedString(text=text, quote=Quote.single).with_quotes()


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
    """Fixes ``hydra.sweep.dir``, the W&B group and what names the runs, for the parent
    and every job, before the sweep starts."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        given = {o.lstrip("+").split("=", 1)[0] for o in config.hydra.overrides.hydra}
        with read_write(config), open_dict(config.hydra.job.env_set):
            name, overrides = sweep_name(config), config.hydra.overrides.hydra
            if "hydra.sweep.dir" not in given:
                config.name = name
                config.hydra.sweep.dir = str(config.hydra.sweep.dir)
                overrides.append(f"hydra.sweep.dir={quoted(config.hydra.sweep.dir)}")
            if GROUP not in os.environ and f"hydra.job.env_set.{GROUP}" not in given:
                group = f"{name}-{Path(config.hydra.sweep.dir).name}"
                config.hydra.job.env_set[GROUP] = group
                overrides.insert(0, f"+hydra.job.env_set.{GROUP}={quoted(group)}")
            excluded = "hydra.job.config.override_dirname.exclude_keys"
            if excluded not in given:
                keys = ",".join(quoted(key) for key in fixed_keys(config))
                overrides.insert(0, f"{excluded}=[{keys}]")
