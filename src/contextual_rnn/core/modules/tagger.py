"""Per-step classification (copy, addition): a class at every step, with the classifier's
loss and accuracy over all steps. A step whose target is ``IGNORE`` (-100, cross-entropy's
``ignore_index``: a step before a copy starts, say) counts in neither."""

from contextual_rnn.core.modules.classifier import SequenceClassifier

IGNORE = -100


class SequenceTagger(SequenceClassifier, kind="tagging"):
    ignore_index = IGNORE

    def logits(self, batch, sample=None):
        """(B, classes, T): every step's logits, in the layout cross-entropy expects."""
        return self(batch, sample).transpose(1, 2)
