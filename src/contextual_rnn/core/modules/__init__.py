"""LightningModules, one per kind of task (see ``SequenceTask.kind``)."""

from contextual_rnn.core.modules.base import SequenceModule
from contextual_rnn.core.modules.classifier import SequenceClassifier
from contextual_rnn.core.modules.regressor import SequenceRegressor

MODULES = {"classification": SequenceClassifier, "regression": SequenceRegressor}

__all__ = ["MODULES", "SequenceClassifier", "SequenceModule", "SequenceRegressor"]
