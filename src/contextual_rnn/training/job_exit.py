"""How a job ends on an error it can name: one line on stderr and an exit code.

In a multirun a job's own ``sys.exit`` would end the whole sweep, so ``exit_with`` raises
``JobFailed`` there instead: the sweep summary records the job as failed with its code
and the other jobs go on (``training.sweep_summary``).
"""

import sys
from typing import NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode


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


def one_line(error: BaseException, limit: int | None = None) -> str:
    """``Type: message`` on one line (a failed job's own message as it is), cut to ``limit``."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, JobFailed):  # already the job's own one-line "error: ..."
        text = text.removeprefix("error: ")
    else:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
