"""LightningModules, one per kind of task."""

from contextual_rnn.modules.base import SequenceModule
from contextual_rnn.modules.classifier import SequenceClassifier
from contextual_rnn.modules.regressor import SequenceRegressor

MODULES = {"classification": SequenceClassifier, "regression": SequenceRegressor}

__all__ = ["MODULES", "SequenceClassifier", "SequenceModule", "SequenceRegressor"]
