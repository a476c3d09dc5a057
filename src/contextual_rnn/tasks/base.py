"""What a task is: a generator of whole splits that owns everything task-specific.

A task generates raw samples, learns what depends on the training split (scaling),
encodes samples into model-ready tensors and describes their layout. Tasks of the
``regression`` kind are also generative: they say how a step's input is built from a
value, how an output advances it, the ground truth for a condition and which examples
figures show. Modules are generic over a kind
and never import a specific task.

A new task is one subclass (it registers itself, see ``registry``), a YAML in
``conf/data/task/`` and one in ``conf/data/``.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from contextual_rnn.registry import Registered

Batch = dict[str, torch.Tensor]
Conditions = dict[str, torch.Tensor]  # what a generated trajectory is conditioned on


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

    kind: ClassVar[str]  # picks the loss and metrics (module.py): classification, regression
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


class ClassificationTask(SequenceTask, register=False):
    """One class per sequence, read at the last step."""

    kind = "classification"

    def parse_query(self, text: str) -> torch.Tensor:
        """A user's sequence as model inputs (1, T); raises InputError if malformed."""
        raise NotImplementedError

    def describe_class(self, index: int) -> str:
        return str(index)


class GenerativeTask(SequenceTask, register=False):
    """Per-step regression of a value's change; trajectories are rolled out from a start."""

    kind = "regression"

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
