"""Sequence classification from the last step: cross-entropy and accuracy."""

import torch
from torch.nn import functional as F
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from contextual_rnn.core.modules.base import SequenceModule


class SequenceClassifier(SequenceModule, kind="classification"):
    logged_metrics = ("val/loss", "val/acc", "train/loss", "train/acc")

    def __init__(self, model, task, fitted=None, data=None, trusted=False):
        super().__init__(model, task, fitted, data, trusted)
        classes = self.layout.output_size
        self.train_loss = self.resumable(MeanMetric())
        self.train_acc = self.resumable(MulticlassAccuracy(classes, average="micro"))
        self.val_acc = MulticlassAccuracy(classes, average="micro")
        self.val_loss = MeanMetric()

    def logits(self, batch, sample=None) -> torch.Tensor:
        """(B, classes) for the last step."""
        return self(batch, sample)[:, -1]

    def training_step(self, batch, batch_idx):
        logits = self.logits(batch)
        loss = F.cross_entropy(logits, batch["targets"])
        self.train_loss.update(loss.detach(), weight=len(logits))
        self.train_acc.update(logits.detach(), batch["targets"])
        # Metric objects: averaged over the epoch, synced across DDP ranks, kept in checkpoints.
        self.log_train_metrics({"train/loss": self.train_loss, "train/acc": self.train_acc})
        return loss

    def validation_step(self, batch, batch_idx):
        logits = self.logits(batch)
        self.val_loss.update(F.cross_entropy(logits, batch["targets"]), weight=len(logits))
        self.val_acc.update(logits, batch["targets"])
        self.log("val/loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val/acc", self.val_acc, on_epoch=True, prog_bar=True)

    @torch.no_grad()
    def answer(self, text: str) -> tuple[str, float]:
        """The class the model gives a user's query (checked by the task) and its probability."""
        inputs = self.task.parse_query(text).to(self.device)
        probabilities = self.logits({"inputs": inputs}, sample=False)
        probabilities = probabilities.softmax(dim=-1)[0]
        best = int(probabilities.argmax())
        return self.task.describe_class(best), float(probabilities[best])
