"""Per-step regression (LCD) and autoregressive generation, for any GenerativeTask.

The model predicts each step's change; a rollout starts from the task's start value,
builds each step's input from the current value, advances the value by the model's
output and feeds it back. Sampling several initial states for one condition gives a
distribution of trajectories.
"""

import torch
from torch.nn import functional as F
from torchmetrics import MeanMetric, MeanSquaredError

from contextual_rnn.core.modules.base import SequenceModule
from contextual_rnn.core.tasks.base import Conditions


class SequenceRegressor(SequenceModule, kind="regression"):
    logged_metrics = ("val/loss", "val/mse", "val/rollout_mse", "train/loss")

    def __init__(self, model, task, fitted=None, data=None, trusted=False):
        super().__init__(model, task, fitted, data, trusted)
        self.train_loss = self.resumable(MeanMetric())
        self.val_loss = MeanMetric()
        self.val_mse = MeanSquaredError()
        self.val_rollout_mse = MeanSquaredError()
        self.val_seen_mse = MeanSquaredError()  # the task's seen conditions (task.seen)
        self.val_seen_rollout_mse = MeanSquaredError()

    def training_step(self, batch, batch_idx):
        loss = F.mse_loss(self(batch), batch["targets"])
        self.train_loss.update(loss.detach(), weight=len(batch["inputs"]))
        self.log_train_metrics({"train/loss": self.train_loss})
        return loss

    def validation_step(self, batch, batch_idx):
        outputs, targets = self(batch), batch["targets"]
        conditions = self.task.conditions(batch)
        rollout = self.rollout(conditions, sample=False)[:, 0, 1:]
        truth = self.task.truth(conditions, self.layout.sequence_length)[:, 1:].to(rollout)
        seen = self.task.seen(conditions)
        unseen = slice(None) if seen is None else ~seen
        if len(outputs[unseen]):
            loss = F.mse_loss(outputs[unseen], targets[unseen])
            self.val_loss.update(loss, weight=len(outputs[unseen]))
            self.val_mse.update(outputs[unseen], targets[unseen])
            self.val_rollout_mse.update(rollout[unseen].contiguous(), truth[unseen].contiguous())
        self.log("val/loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val/mse", self.val_mse, on_epoch=True)
        self.log("val/rollout_mse", self.val_rollout_mse, on_epoch=True)
        if seen is not None:
            if seen.any():
                self.val_seen_mse.update(outputs[seen], targets[seen])
                self.val_seen_rollout_mse.update(rollout[seen].contiguous(), truth[seen])
            self.log("val_seen/mse", self.val_seen_mse, on_epoch=True)
            self.log("val_seen/rollout_mse", self.val_seen_rollout_mse, on_epoch=True)

    @torch.no_grad()
    def rollout(
        self,
        conditions: Conditions,
        steps: int | None = None,
        sample: bool | None = True,
        num_samples: int = 1,
    ) -> torch.Tensor:
        """Trajectories (B, num_samples, steps + 1) in the task's units, from the start value.

        ``sample=True`` draws an initial state per trajectory; ``False`` uses the mean.
        """
        steps = self.layout.sequence_length if steps is None else steps
        repeated = {
            k: v.to(self.device).repeat_interleave(num_samples) for k, v in conditions.items()
        }
        value = self.task.start_value(repeated)
        side = self.task.side(repeated) if self.use_side else None

        def step_input(value):
            inputs = self.task.step_input(value)
            return (inputs if side is None else torch.cat([inputs, side], dim=1)).unsqueeze(1)

        inputs = step_input(value)
        state = self.net.start(self.task.context(repeated), len(inputs), sample)
        path = [value]
        for _ in range(steps):
            change, state = self.net.step(inputs, state)
            value = self.task.advance(value, change[:, 0])
            path.append(value)
            inputs = step_input(value)
        batch = len(next(iter(conditions.values())))
        return torch.stack(path, dim=1).view(batch, num_samples, steps + 1)
