"""How a job ends on an error it can name: one line on stderr and an exit code.

In a multirun a job's own ``sys.exit`` would end the whole sweep, so ``exit_with`` raises
``JobFailed`` there instead: the sweep summary records the job as failed with its code
and the other jobs go on (``training.sweep_summary``).
"""

import _thread
import sys
import threading
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


def keep_interrupts() -> None:
    """Ctrl-C landing in a finaliser (matplotlib's weakref callbacks, run by the garbage
    collector while a figure is drawn) is swallowed by Python, which prints "Exception
    ignored in ..." with a traceback, and the run would go on. The hook hands such an
    interrupt back to the main thread without a word, as if it had come a moment later."""
    if getattr(sys.unraisablehook, "keeps_interrupts", False):
        return
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):  # from another thread, later:
            redelivery = threading.Timer(0.01, _thread.interrupt_main)  # not into this hook
            redelivery.daemon = True
            redelivery.start()
        else:
            previous(unraisable)

    hook.keeps_interrupts = True
    sys.unraisablehook = hook
