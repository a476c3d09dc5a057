"""Synthetic sequence tasks and the DataModule that serves them."""

from contextual_rnn.data.base import Batch, SequenceTask, TaskSpec
from contextual_rnn.data.datamodule import SequenceDataModule

__all__ = ["Batch", "SequenceDataModule", "SequenceTask", "TaskSpec"]
