"""The config resolver of the project, registered when ``contextual_rnn.training`` is imported.

``${run_name:mode,overrides,excluded,default}``: a multirun job is named by its overrides
less the ``excluded`` keys (those every job shares), each key by its last part and a
float by 4 digits (``lr=0.001-seed=1``); a single run, or a job with nothing of its own,
gets ``default``.
"""

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf


def run_name(mode, overrides, excluded, default: str) -> str:
    if mode not in (RunMode.MULTIRUN, "MULTIRUN"):
        return default
    parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    parts = []
    for override in parsed:
        if override.key_or_group in set(excluded):
            continue
        key = override.key_or_group.split(".")[-1].split("/")[-1]
        value = override.value()  # a float to 4 digits: an Optuna trial's lr=0.0002416
        text = f"{value:.4g}" if isinstance(value, float) else override.get_value_element_as_str()
        parts.append(f"{key}={text}")
    return "-".join(parts) or default


OmegaConf.register_new_resolver("run_name", run_name, replace=True)
