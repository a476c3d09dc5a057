"""Synthetic sequence tasks; each owns its data, scaling, queries and figure examples."""

from contextual_rnn.tasks.base import (
    Batch,
    ClassificationTask,
    GenerativeTask,
    SequenceTask,
    TaskLayout,
)

__all__ = [
    "Batch",
    "ClassificationTask",
    "GenerativeTask",
    "SequenceTask",
    "TaskLayout",
]
