"""Config resolvers of the project, registered when ``contextual_rnn.training`` is imported.

``${parallel_jobs:}``: a sweep's jobs at once, one and a half per usable core. Each job
gives torch ``cores // jobs`` threads (at least one), and much of a job (the Python around
the kernels, figures, logging) uses one core at a time: the half job more per core fills
the gaps (docs/sweeps.md measures it).

``${run_name:mode,overrides,excluded,default}``: a multirun job is named by its overrides
less the ``excluded`` keys (those every job shares), each key by its last part and a
float by 4 digits (``lr=0.001-seed=1``); a single run, or a job with nothing of its own,
gets ``default``.
"""

import math
import os
import time
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))


def cpu_times() -> dict[int, tuple[int, int]]:
    """Per CPU (Linux's /proc/stat): (idle, total) time so far, in clock ticks; empty
    where the file is not there."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return {}
    times = {}
    for line in lines:
        name, *ticks = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            values = [int(t) for t in ticks]
            times[int(name[3:])] = (values[3] + values[4], sum(values[:8]))  # idle + iowait
    return times


def idle_cores(window: float = 0.1) -> float:
    """How many of this process's cores sat idle over ``window`` seconds (the cores, where
    that cannot be measured): what other work leaves a run starting now."""
    cores = os.sched_getaffinity(0)
    before = cpu_times()
    time.sleep(window)
    after = cpu_times()
    shares = [
        (after[c][0] - before[c][0]) / (after[c][1] - before[c][1])
        for c in cores
        if c in before and c in after and after[c][1] > before[c][1]
    ]
    return sum(shares) if len(shares) == len(cores) else float(len(cores))


def parallel_jobs() -> int:
    return math.ceil(1.5 * usable_cores())


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


OmegaConf.register_new_resolver("parallel_jobs", parallel_jobs, replace=True)
OmegaConf.register_new_resolver("run_name", run_name, replace=True)
