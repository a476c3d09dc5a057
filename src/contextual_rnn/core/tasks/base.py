"""What a task is: a generator of whole splits that owns everything task-specific.

A task generates raw samples, learns what depends on the training split (scaling),
encodes samples into model-ready tensors and describes their layout. Tasks of the
``regression`` kind are also generative: they say how a step's input is built from a
value, how an output advances it, the ground truth for a condition and which examples
figures show. Modules are generic over a kind
and never import a specific task.

A task also says what a study reports of its runs (``metrics``, ``thresholds``,
``run_numbers``, ``compared``, ``figures``, ``calibration``): ``analysis/`` calls these
hooks and names no task. The defaults fit any task.

A new task is one subclass (it registers itself, see ``core.registry``), a YAML in
``conf/data/task/`` and one in ``conf/data/``.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from contextual_rnn.core.registry import Registered

Batch = dict[str, torch.Tensor]
Conditions = dict[str, torch.Tensor]  # what a generated trajectory is conditioned on
# A study's runs of one sweep by init: each run a dict with ``init``, ``seed``, ``folder``,
# ``curve`` (its validation rows, each with ``epochs`` trained and the logged metrics) and
# ``numbers`` (its ``run_numbers``).
Groups = dict[str, list[dict]]


@dataclass(frozen=True)
class TaskLayout:
    """The shapes a model needs: every field is a plain value."""

    input_kind: str  # "tokens" (ids) or "features" (floats per step)
    input_size: int  # vocabulary size, or features per step
    output_size: int  # classes, or regression outputs per step
    sequence_length: int
    context: str | None = None  # None, "first_token" (the embedded first input) or "features"
    context_size: int = 0  # context features (for "features")
    side_size: int = 0  # side features a model without context gets at every step


class SequenceTask(Registered, register=False):
    """Generates whole splits at once (no per-sample Python loop)."""

    kind: ClassVar[str]  # picks the module (core/modules): classification, regression
    val_size_option: ClassVar[str]  # the option that sizes the validation split

    def generate(self, split: str, generator: torch.Generator) -> Batch:
        """Raw samples of ``split`` ("train" or "val"), drawn from ``generator``."""
        raise NotImplementedError

    def fit(self, train: Batch) -> None:
        """Learn what depends on the training split (e.g. target scaling)."""

    def fitted(self) -> dict:
        """What ``fit`` learned, as plain values (stored in checkpoints)."""
        return {}

    def load_fitted(self, values: dict) -> None:
        """Restore what ``fit`` learned."""

    def encode(self, raw: Batch) -> Batch:
        """Model-ready tensors: ``inputs``, ``targets``, and ``context`` / ``side`` if any."""
        return raw

    @property
    def layout(self) -> TaskLayout:
        raise NotImplementedError

    # --- what a study reports of the task's runs ---------------------------------------------

    metrics: ClassVar[dict[str, str]] = {"val/loss": "min"}  # validated metric -> min/max better
    thresholds: ClassVar[dict[str, tuple[float, ...]]] = {}  # metric -> values to time reaching
    calibration_caption: ClassVar[str] = ""  # what the rows of ``calibration`` mean (markdown)

    @classmethod
    def threshold_name(cls, metric: str, value: float) -> str:
        return f"{metric} {value:g}"

    @classmethod
    def run_numbers(cls, curve: list[dict]) -> dict[str, float]:
        """One run's numbers: epochs trained, the final and best value of every metric, and
        the epochs, wall and CPU seconds to the first validation at each threshold."""
        numbers = {"epochs trained": curve[-1]["epochs"] if curve else 0.0}
        for metric, better in cls.metrics.items():
            values = [point[metric] for point in curve if metric in point]
            numbers[f"final {metric}"] = values[-1] if values else math.nan
            numbers[f"best {metric}"] = (max if better == "max" else min)(values, default=math.nan)
        for metric, values in cls.thresholds.items():
            for value in values:
                reached = first_reaching(curve, metric, value, cls.metrics[metric])
                name = cls.threshold_name(metric, value)
                numbers |= {f"{unit} to {name}": time for unit, time in reached.items()}
        return numbers

    @classmethod
    def compared(cls) -> dict[str, str]:
        """The run numbers the tables compare across inits, each with its better direction."""
        found = {f"{which} {m}": b for m, b in cls.metrics.items() for which in ("final", "best")}
        for metric, values in cls.thresholds.items():
            found |= {f"epochs to {cls.threshold_name(metric, v)}": "min" for v in values}
        return found

    @classmethod
    def figures(cls, name: str, groups: Groups, out: Path, checkpoints: bool) -> list[Path]:
        """The sweep's figures, written to ``out``: one panel per metric. ``checkpoints``:
        whether figures may reload the runs' trained modules."""
        from contextual_rnn.core.figures import curve_figure, save

        panels = [(metric, metric, False) for metric in cls.metrics]
        fig, _ = curve_figure(f"{name}: validation per seed", groups, panels)
        save(fig, out / f"curves_{name}.png")
        return [out / f"curves_{name}.png"]

    @classmethod
    def calibration(cls, groups: Groups) -> list[dict]:
        """Rows of plain values from the runs' trained modules (``calibration_caption``)."""
        return []


def first_reaching(curve: list[dict], metric: str, value: float, better: str) -> dict:
    """Epochs, wall and CPU seconds at the first validation whose ``metric`` reaches ``value``
    (never: infinity, the slowest possible)."""
    sign = 1 if better == "max" else -1
    for point in curve:
        if metric in point and sign * (point[metric] - value) >= -1e-12:
            return {
                "epochs": point["epochs"],
                "wall_s": point.get("time/wall_s", math.nan),
                "cpu_s": point.get("time/cpu_s", math.nan),
            }
    return {"epochs": math.inf, "wall_s": math.inf, "cpu_s": math.inf}


class ClassificationTask(SequenceTask, register=False):
    """One class per sequence, read at the last step."""

    kind = "classification"
    metrics = {"val/loss": "min", "val/acc": "max"}  # what the classifier module logs

    def parse_query(self, text: str) -> torch.Tensor:
        """A user's sequence as model inputs (1, T); raises InputError if malformed."""
        raise NotImplementedError

    def describe_class(self, index: int) -> str:
        return str(index)


class GenerativeTask(SequenceTask, register=False):
    """Per-step regression of a value's change; trajectories are rolled out from a start."""

    kind = "regression"
    metrics = {"val/loss": "min", "val/mse": "min", "val/rollout_mse": "min"}  # the regressor's

    def conditions(self, batch: Batch) -> Conditions:
        """The conditions of the sequences in a batch."""
        raise NotImplementedError

    def start_value(self, conditions: Conditions) -> torch.Tensor:
        """The value (B,) a rollout starts from, in the task's units."""
        raise NotImplementedError

    def step_input(self, value: torch.Tensor) -> torch.Tensor:
        """The model input (B, input_size) for a value (B,)."""
        raise NotImplementedError

    def advance(self, value: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """The next value from the current one and the model's output (B, output_size)."""
        raise NotImplementedError

    def context(self, conditions: Conditions) -> torch.Tensor | None:
        """The context (B, context_size) an initial-state strategy sees, or None."""
        return None

    def side(self, conditions: Conditions) -> torch.Tensor | None:
        """The side features (B, side_size) a model without context gets, or None."""
        return None

    def seen(self, conditions: Conditions) -> torch.Tensor | None:
        """Which validation sequences (B,) have conditions the training split has, when the
        validation split holds some: the regressor reports them apart (``val_seen/``), so
        ``val/`` stays the unseen conditions' error. None: the split holds none."""
        return None

    def truth(self, conditions: Conditions, steps: int) -> torch.Tensor:
        """The true trajectories (B, steps + 1), start value included."""
        raise NotImplementedError

    def figure_examples(self, raw: Batch) -> torch.Tensor:
        """Indices into a raw split of the examples figures show."""
        raise NotImplementedError

    def describe(self, conditions: Conditions, index: int) -> str:
        """A short title for one condition."""
        raise NotImplementedError

    def example_name(self, conditions: Conditions, index: int) -> str:
        """A name for one condition's figure (file names, W&B keys)."""
        raise NotImplementedError
