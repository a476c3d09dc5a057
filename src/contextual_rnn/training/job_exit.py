"""How a job ends on an error it can name: one line on stderr and an exit code.

In a multirun a job's own ``sys.exit`` would end the whole sweep, so ``exit_with`` raises
``JobFailed`` there instead: the sweep summary records the job as failed with its code
and the other jobs go on (``training.sweeps``).
"""

import sys
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from contextual_rnn.core.errors import one_line


class JobFailed(RuntimeError):
    """A multirun job that a single run would end with ``sys.exit(code)``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def exit_with(code: int, message: str) -> NoReturn:
    """Print the one-line error; exit with ``code``, or in a multirun fail this job only."""
    print(message, file=sys.stderr)
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise JobFailed(code, message)
    sys.exit(code)


def job_error(error: BaseException, limit: int | None = None) -> str:
    """A failed job's error on one line: its own message as it is, else ``Type: message``."""
    if not isinstance(error, JobFailed):
        return one_line(error, limit)
    text = str(error).removeprefix("error: ")  # already the job's one-line "error: ..."
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
