"""Config resolvers of the project, registered when ``contextual_rnn.training`` is imported.

``${parallel_jobs:}``: how many jobs of a sweep run at once by default: one and a half
per usable core. A job gives its torch ops ``cores // jobs`` threads (at least one), so
each core runs one or two single-threaded jobs; much of a job (the Python around the
kernels, figures, logging) uses one core at a time, and the half job more per core
fills the gaps (docs/sweeps.md measures it).
"""

import math
import os

from omegaconf import OmegaConf


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))


def parallel_jobs() -> int:
    return math.ceil(1.5 * usable_cores())


OmegaConf.register_new_resolver("parallel_jobs", parallel_jobs, replace=True)
