"""What a task is: a vectorised generator of whole splits plus a description (TaskSpec).

A new task is one SequenceTask subclass plus one YAML under ``conf/data/task``.
"""

from dataclasses import asdict, dataclass, field

import torch

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TaskSpec:
    """Everything a model needs to know about a task; primitives only (saved in checkpoints)."""

    name: str
    kind: str  # "classification" (target at the last step) or "regression" (every step)
    input_kind: str  # "tokens" or "features"
    input_size: int  # vocabulary size or features per step
    output_size: int  # classes, or regression outputs per step
    sequence_length: int
    context: str | None = None  # None, "first_token" or "features"
    context_size: int = 0  # number of context features (for "features")
    side_size: int = 0  # side features a non-contextual model receives at every step
    extra: dict = field(default_factory=dict)  # task-specific constants (scaling, ...)

    def to_dict(self) -> dict:
        return asdict(self)


class SequenceTask:
    """Generates whole splits at once (no per-sample Python loop)."""

    name: str

    def generate(self, split: str, generator: torch.Generator) -> Batch:
        """Raw samples of ``split`` ("train" or "val"), drawn from ``generator``."""
        raise NotImplementedError

    def make_spec(self, train: Batch) -> TaskSpec:
        """The task description; may depend on the training split (e.g. target scaling)."""
        raise NotImplementedError

    def encode(self, raw: Batch, spec: TaskSpec) -> Batch:
        """Model-ready tensors (``inputs``, ``targets``, optional ``context``, ``side``)."""
        return raw
