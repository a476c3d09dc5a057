"""The LightningModule shared by all tasks: encoder + ContextualRNN + optimizer.

Built only from primitives (the model config as a dict and the TaskSpec as a
dict), which are what ``save_hyperparameters`` stores: checkpoints load with
``torch.load(weights_only=True)`` and the module is rebuilt from them.
"""

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import nn
from torchmetrics import Metric

from contextual_rnn.data.base import Batch, TaskSpec
from contextual_rnn.errors import ConfigError, config_scope, positive_int, require
from contextual_rnn.network import ContextualRNN, mlp

EMBEDDING_INITS = ("normal", "zeros")


class SequenceModule(pl.LightningModule):
    """``model``: the model config; ``spec``: the TaskSpec; ``data``: the data config, kept
    only so that a checkpoint can regenerate the task's data (evaluation, generation)."""

    def __init__(self, model: dict, spec: dict, data: dict | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.spec = spec = TaskSpec(**spec)
        step_size = spec.input_size
        self.embedding = None
        if spec.input_kind == "tokens":
            size = positive_int("model.embedding_dim", model.get("embedding_dim", 100))
            init = model.get("embedding_init", "normal")
            require(
                init in EMBEDDING_INITS, "model.embedding_init", init, " or ".join(EMBEDDING_INITS)
            )
            self.embedding = nn.Embedding(spec.input_size, size)
            if init == "zeros":  # the authors' ART code
                nn.init.zeros_(self.embedding.weight)
            step_size = size
        context_size = step_size if spec.context == "first_token" else spec.context_size

        with config_scope("model.init"):
            init_class = instantiate({**model["init"], "_partial_": True}).func
        uses_context = getattr(init_class, "uses_context", False)
        if uses_context and spec.context is None:
            raise ConfigError(
                "model/init",
                init_class.__name__,
                f"an init without context: task '{spec.name}' has no context here",
            )
        self.use_side = not uses_context and spec.side_size > 0 and model.get("side_input", True)
        with config_scope("model.cell"):
            cell = instantiate(model["cell"], input_size=step_size + spec.side_size * self.use_side)
        with config_scope("model.init"):
            initial_state = instantiate(model["init"], cell=cell, context_size=context_size)
        readout = mlp(
            cell.output_size,
            model.get("readout_hidden", []),
            spec.output_size,
            key="model.readout_hidden",
        )
        self.net = ContextualRNN(cell, initial_state, readout)
        self.train_metrics_logged = False

    @staticmethod
    def resumable(metric: Metric) -> Metric:
        """A training metric whose running state goes into checkpoints, so an epoch cut by a
        kill and resumed reports the same value as one that ran through."""
        metric.persistent(True)
        return metric

    def on_train_epoch_start(self) -> None:
        self.train_metrics_logged = False

    def log_train_metrics(self, metrics: dict[str, Metric]) -> None:
        """Hand Lightning the epoch's training metrics once; they accumulate every step.

        Lightning computes, logs and resets a logged Metric at the epoch's end from the
        reference it holds, so logging it again each step changes nothing but costs
        about a millisecond on CPU (docs/performance.md).
        """
        if not self.train_metrics_logged:
            for name, metric in metrics.items():
                self.log(name, metric, on_step=False, on_epoch=True)
            self.train_metrics_logged = True

    def step_inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(inputs (B, T, I), context or None) as the cell and the init see them."""
        inputs, context = batch["inputs"], batch.get("context")
        if self.embedding is not None:
            inputs = self.embedding(inputs)
            if self.spec.context == "first_token":
                context = inputs[:, 0]
        if self.use_side:
            side = batch["side"][:, None, :].expand(-1, inputs.shape[1], -1)
            inputs = torch.cat([inputs, side], dim=2)
        return inputs, context

    def forward(self, batch: Batch, sample: bool | None = None) -> torch.Tensor:
        inputs, context = self.step_inputs(batch)
        outputs, _ = self.net(inputs, context, sample=sample)
        return outputs

    def configure_optimizers(self):
        with config_scope("model.optimizer"):
            return instantiate(self.hparams.model["optimizer"], params=self.parameters())
