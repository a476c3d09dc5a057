"""The sweep's folder, ``outputs/<name>/multiruns/<time>``, named before any job runs
(docs/sweeps.md), and what W&B calls the sweep and its runs.

Hydra's launchers resolve ``hydra.sweep.dir`` in the parent process, where the
``${hydra:...}`` values of the default name do not exist yet, and each job would resolve
it again with its own name; ``SweepFolder``, a Hydra callback, fixes it for all. It also
sets W&B's own ``WANDB_RUN_GROUP`` for the jobs (so ``logger.wandb.group=...`` still
wins) and excludes the overrides that do not vary from ``hydra.job.override_dirname``,
which ``${run_name:}`` (training/resolvers.py) reads.
"""

import os
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Quote, QuotedString
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

NAME_PARTS = ("data", "model/cell")  # what the default name is made of, in order
GROUP = "WANDB_RUN_GROUP"  # W&B's variable for a run's group


def command_line(config: DictConfig) -> list[Override]:
    return OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))


def quoted(text: str) -> str:
    return QuotedString(text=text, quote=Quote.single).with_quotes()


def sweep_name(config: DictConfig) -> str:
    """The experiment's name, or, when the sweep varies what the name is made of, the swept
    values joined with ``+`` (``-m model/cell=lstm,gru`` -> ``lcd_lstm+gru``)."""
    swept = {
        o.key_or_group: [str(v) for v in o.sweep_string_iterator()]
        for o in command_line(config)
        if o.is_sweep_override() and not o.is_interval_sweep()  # Optuna samples an interval
    }
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
                fixed = [o.key_or_group for o in command_line(config) if not o.is_sweep_override()]
                keys = ",".join(quoted(key) for key in fixed)
                overrides.insert(0, f"{excluded}=[{keys}]")
