"""LightningModules, one per kind of task (``SequenceTask.kind``); each registers by its kind."""

from contextual_rnn.core.modules.base import MODULES, SequenceModule, module_for
from contextual_rnn.core.modules.classifier import SequenceClassifier
from contextual_rnn.core.modules.regressor import SequenceRegressor
from contextual_rnn.core.modules.tagger import SequenceTagger

__all__ = [
    "MODULES",
    "SequenceClassifier",
    "SequenceModule",
    "SequenceRegressor",
    "SequenceTagger",
    "module_for",
]
