"""Per-step regression of state changes (LCD) and autoregressive generation.

The model predicts the scaled change dx_t; a rollout adds the unscaled change to
the state and feeds the new state back: x_{t+1} = x_t + dx_t. Sampling several
initial states for one context gives a distribution of trajectories.
"""

import torch
from torch.nn import functional as F
from torchmetrics import MeanMetric, MeanSquaredError

from contextual_rnn.data.lcd import from_unit, lcd_features, to_unit
from contextual_rnn.modules.base import SequenceModule


class SequenceRegressor(SequenceModule):
    def __init__(self, model: dict, spec: dict, data: dict | None = None):
        super().__init__(model, spec, data)
        self.train_loss = self.resumable(MeanMetric())
        self.val_loss = MeanMetric()
        self.val_mse = MeanSquaredError()
        self.val_rollout_mse = MeanSquaredError()

    def training_step(self, batch, batch_idx):
        loss = F.mse_loss(self(batch), batch["targets"])
        self.train_loss.update(loss.detach(), weight=len(batch["inputs"]))
        self.log_train_metrics({"train/loss": self.train_loss})
        return loss

    def validation_step(self, batch, batch_idx):
        outputs = self(batch)
        size = len(outputs)
        self.val_loss.update(F.mse_loss(outputs, batch["targets"]), weight=size)
        self.val_mse.update(outputs, batch["targets"])
        rollout = self.rollout(batch["x0"], batch["period"], sample=False)[:, 0]
        self.val_rollout_mse.update(rollout[:, 1:].contiguous(), batch["curve"][:, 1:].contiguous())
        self.log("val/loss", self.val_loss, on_epoch=True, prog_bar=True)
        self.log("val/mse", self.val_mse, on_epoch=True)
        self.log("val/rollout_mse", self.val_rollout_mse, on_epoch=True)

    @torch.no_grad()
    def rollout(
        self,
        x0: torch.Tensor,
        period: torch.Tensor,
        steps: int | None = None,
        sample: bool | None = True,
        num_samples: int = 1,
    ) -> torch.Tensor:
        """Trajectories (B, num_samples, steps + 1) in the task's units, starting at x0.

        ``sample=True`` draws an initial state per trajectory; ``False`` uses the mean.
        """
        extra = self.spec.extra
        steps = self.spec.sequence_length if steps is None else steps
        x = x0.to(self.device, torch.float32).repeat_interleave(num_samples)
        period = period.to(self.device, torch.float32).repeat_interleave(num_samples)
        context = lcd_features(x, period, self.spec, extra["context"])
        side = lcd_features(x, period, self.spec, extra["side"]) if self.use_side else None
        state = self.net.initial_state(len(x), context, sample)
        path = [x]
        for _ in range(steps):
            inputs = to_unit(x, *extra["state_range"])[:, None, None]
            if side is not None:
                inputs = torch.cat([inputs, side[:, None, :]], dim=2)
            change, state = self.net(inputs, state=state)
            x = x + from_unit(change[:, 0, 0], *extra["target_range"])
            path.append(x)
        return torch.stack(path, dim=1).view(len(x0), num_samples, steps + 1)
