"""LightningModules, one per kind of task (``SequenceTask.kind``); each registers by its kind."""

from contextual_rnn.core.modules.base import MODULES, SequenceModule, module_for
from contextual_rnn.core.modules.classifier import SequenceClassifier
from contextual_rnn.core.modules.regressor import SequenceRegressor

__all__ = [
    "MODULES",
    "SequenceClassifier",
    "SequenceModule",
    "SequenceRegressor",
    "module_for",
]
