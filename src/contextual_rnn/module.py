"""The LightningModule: embedding + ContextualRNN + optimizer.

Built only from plain values (the model config, the task config, what the task
learned from its training split, the data config), which are what
``save_hyperparameters`` stores: checkpoints load with ``torch.load(weights_only=True)``
and the module is rebuilt from them through ``registry``, which builds only
registered classes. ``trusted=True`` (training from the user's own configs) may
import the modules those configs name; a checkpoint is never trusted.

A trained model is used through its module's methods: ``load`` (a checkpoint file or a run
folder), ``datamodule`` (the run's data, for ``pl.Trainer(logger=False).validate``),
``SequenceRegressor.rollout`` and ``SequenceClassifier.answer``.
"""

from pathlib import Path
from typing import Annotated, ClassVar, Literal

import pytorch_lightning as pl
import torch
from pydantic import BaseModel, ConfigDict, Strict
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanMetric, MeanSquaredError, Metric
from torchmetrics.classification import MulticlassAccuracy

from contextual_rnn.checkpoints import (
    CheckpointError,
    check_weights,
    find_checkpoint,
    read_checkpoint,
)
from contextual_rnn.errors import (
    ConfigError,
    PositiveInt,
    PositiveInts,
    allowed,
    check_memory,
    choice,
    meta_splits,
    split_bytes,
    validate,
)
from contextual_rnn.model.cells import LinearInit, RecurrentCell, mlp
from contextual_rnn.model.initial_states import InitialState
from contextual_rnn.model.network import ContextualRNN, embed
from contextual_rnn.registry import build, build_optimizer, check, check_plain, resolve
from contextual_rnn.tasks.base import Batch, Conditions, SequenceTask
from contextual_rnn.tasks.data import SequenceDataModule


class ModelOptions(BaseModel):
    """The model config's own options; its cell, init and optimizer are their classes'."""

    model_config = ConfigDict(extra="forbid")
    cell: dict
    init: dict
    optimizer: dict
    embedding_dim: PositiveInt = 100
    embedding_init: choice("normal", "zeros") = "normal"
    readout_hidden: PositiveInts = []
    readout_init: LinearInit = "torch"
    # true: a model without context gets the side information at every step (the paper's
    # baseline); "always": contextual models get it too; false: no model gets it
    side_input: Annotated[
        Annotated[bool, Strict()] | Literal["always"], allowed("true, false or always")
    ] = True
    context_net: dict = {}  # read by conf/model/init/contextual.yaml, not here


def check_model(model: dict, task: SequenceTask, trusted: bool = False):
    """The model config checked for ``task`` without building anything: its options and
    the class of its initial state."""
    options = validate(ModelOptions, model, "model")
    check_plain(options.context_net, "model.context_net")
    check(options.cell, RecurrentCell, "model.cell", trusted, provided={"input_size"})
    init = check(options.init, InitialState, "model.init", trusted, ("cell", "context_size"))
    if init.uses_context and task.layout.context is None:
        raise ConfigError(
            "model/init",
            init.__name__,
            f"an init without context: task {type(task).__name__} has no context here",
        )
    build_optimizer(options.optimizer, [torch.zeros(1, requires_grad=True)], "model.optimizer")
    return options, init


MODULES: dict[str, type["SequenceModule"]] = {}  # task kind -> the module that trains it


HPARAMS = {"model", "task", "fitted", "data"}  # what a checkpoint stores to rebuild its module


def module_for(task: type[SequenceTask]) -> type["SequenceModule"]:
    """The module that trains tasks of ``task.kind``."""
    if task.kind not in MODULES:
        kinds = ", ".join(MODULES)
        raise ConfigError("data.task", task.__name__, f"a task of a kind a module trains: {kinds}")
    return MODULES[task.kind]


class SequenceModule(pl.LightningModule):
    """``model``: the model config; ``task``: the task config (with ``_target_``);
    ``fitted``: what the task learned from its training split; ``data``: the data
    config, kept so that a checkpoint can regenerate its validation split.

    A subclass declared with ``kind="..."`` trains the tasks of that ``SequenceTask.kind``.
    """

    kind: ClassVar[str | None] = None  # the task kind this module trains
    logged_metrics: tuple[str, ...] = ()  # what the module logs (a sweeper may optimise one)

    def __init_subclass__(cls, kind: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if kind is not None:
            cls.kind = kind
            MODULES[kind] = cls

    def __init__(
        self,
        model: dict,
        task: dict,
        fitted: dict | None = None,
        data: dict | None = None,
        trusted: bool = False,
    ):
        super().__init__()
        # for the checkpoints only: the loggers get the whole run config (train.py)
        self.save_hyperparameters(ignore=["trusted"], logger=False)
        self.task = build(task, SequenceTask, "data.task", trusted)
        if fitted:  # none on the meta device, before the training split exists
            self.task.load_fitted(fitted)
        options, init_class = check_model(model, self.task, trusted)
        layout = self.layout = self.task.layout
        step_size = layout.input_size
        self.embedding = None
        if layout.input_kind == "tokens":
            self.embedding = nn.Embedding(layout.input_size, options.embedding_dim)
            if options.embedding_init == "zeros":  # the authors' ART code
                nn.init.zeros_(self.embedding.weight)
            step_size = options.embedding_dim
        context_size = step_size if layout.context == "first_token" else layout.context_size
        given = options.side_input == "always" or (
            options.side_input and not init_class.uses_context
        )
        self.use_side = layout.side_size > 0 and given
        cell = build(
            model["cell"],
            RecurrentCell,
            "model.cell",
            trusted,
            input_size=step_size + layout.side_size * self.use_side,
        )
        initial_state = build(
            model["init"], InitialState, "model.init", trusted, cell=cell, context_size=context_size
        )
        readout = mlp(
            cell.output_size, options.readout_hidden, layout.output_size, options.readout_init
        )
        self.net = ContextualRNN(cell, initial_state, readout)
        self.optimizer_config = model["optimizer"]
        self.train_metrics_logged = False

    @classmethod
    def load(cls, path: str | Path, which: str = "best") -> "SequenceModule":
        """The trained module of a checkpoint file or of a run folder (its ``best`` or
        ``last`` checkpoint), in eval mode on the CPU. The checkpoint loads with
        ``torch.load(weights_only=True)`` and the module is rebuilt from its plain values
        through ``registry``: nothing it stores can run code. Its sizes are checked
        against its weights on torch's meta device before anything is allocated, and its
        weights must be finite. On a subclass (``SequenceRegressor.load``) a checkpoint of
        another kind of task is refused. A refusal is a ``CheckpointError``, one line."""
        path = find_checkpoint(path, which)
        checkpoint = read_checkpoint(path)
        hparams = checkpoint["hyper_parameters"]
        unknown = sorted(set(hparams) - HPARAMS)
        if unknown:
            raise CheckpointError(f"{path}: refused: unknown stored entry {unknown[0]!r}")
        task = hparams["task"]
        target = task.get("_target_") if isinstance(task, dict) else None
        try:
            found = module_for(resolve(target, SequenceTask, "task"))
        except ConfigError as error:
            raise CheckpointError(f"{path}: refused: {error}") from None
        if not issubclass(found, cls):
            raise CheckpointError(
                f"{path} was trained on {target.rsplit('.', 1)[-1]}, a {found.kind} task; "
                f"this needs a {cls.kind} model"
            )
        options = {k: hparams[k] for k in HPARAMS if k in hparams}
        try:
            for name in ("fitted", "data"):  # plain values, like the options of what it builds
                check_plain(options.get(name), name)
            with torch.device("meta"):
                check_weights(path, found(**options), checkpoint["state_dict"])
            module = found(**options)
        except CheckpointError:
            raise
        except RuntimeError as error:  # a size past what torch can even count
            raise CheckpointError(
                f"{path}: its stored config does not match its weights ({error})"
            ) from None
        except ConfigError as error:
            raise CheckpointError(f"{path}: refused: {error}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:  # malformed values
            raise CheckpointError(f"{path}: its stored config is malformed ({error!r})") from None
        module.load_state_dict(checkpoint["state_dict"])
        return module.eval()

    def datamodule(
        self, test_size: int | None = None, test_seed: int | None = None
    ) -> SequenceDataModule:
        """The run's data, rebuilt from its stored config: ``pl.Trainer(logger=False).validate(
        module, module.datamodule())`` gives the validation metrics training logged for this
        checkpoint. ``test_size`` (sequences; LCD: per period) and ``test_seed`` draw a fresh
        validation split instead. Splits past half this machine's memory are refused."""
        data = dict(self.hparams.get("data") or {})
        if not data:
            raise CheckpointError("this checkpoint does not record its data config")
        task = dict(self.hparams["task"])
        if test_size is not None:
            task[type(self.task).val_size_option] = test_size
        if test_seed is not None:
            data["val_seed"] = test_seed
        try:
            built = build(task, SequenceTask, "task")
            check_memory("task", task, split_bytes(meta_splits(built)), "splits that fit")
            return SequenceDataModule(built, **data)
        except (ConfigError, TypeError) as error:
            if test_size is not None or test_seed is not None:
                raise  # the caller's values: its message names them
            raise CheckpointError(f"its data config cannot be rebuilt: {error}") from None

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

    def step_inputs(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """(inputs (B, T, I), context or None) as the cell and the init see them, and which of
        the two already went through its first linear map (``network.embed``)."""
        inputs, context = batch["inputs"], batch.get("context")
        mapped = {"inputs": False, "context": False}
        if self.embedding is not None:
            tokens, table = inputs, self.embedding.weight
            cell_map = None if self.use_side else self.net.cell.input_map
            inputs, mapped["inputs"] = embed(tokens, table, cell_map)
            if self.layout.context == "first_token":
                context_map = self.net.initial_state.context_map
                context, mapped["context"] = embed(tokens[:, 0], table, context_map)
        if self.use_side:
            side = batch["side"][:, None, :].expand(-1, inputs.shape[1], -1)
            inputs = torch.cat([inputs, side], dim=2)
        return inputs, context, mapped

    def forward(self, batch: Batch, sample: bool | None = None) -> torch.Tensor:
        inputs, context, mapped = self.step_inputs(batch)
        state = self.net.start(context, len(inputs), sample, mapped["context"])
        return self.net.step(inputs, state, False, mapped["inputs"])[0]

    def configure_optimizers(self):
        return build_optimizer(self.optimizer_config, self.parameters(), "model.optimizer")


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
