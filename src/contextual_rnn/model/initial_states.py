"""Where the state starts: zero, free (trainable) or contextual, h0 = g(context).

An initial state is built from the cell it serves and the size of the context it may
read; called as ``init(context, batch_size, sample)`` it returns exactly the cell's state
in torch's ``hx`` layout (``cells.state_shapes``). The cell may be the project's or a
torch nn.LSTM / nn.GRU / nn.RNN of one's own, the same object either way:
``lstm(inputs, ContextualInit(lstm, context_size=3)(context, batch_size))``. A state every
sequence shares (zero, free without noise) comes as an expanded view, with no copy per
sequence. It knows nothing about the task.

A new initial state is one ``InitialState`` subclass (it registers itself, see
``registry``) plus one YAML under ``conf/model/init/`` naming it in ``_target_``.
"""

import math
from math import prod

import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.errors import NonNegative, PositiveFloat, PositiveInts, checked, choice
from contextual_rnn.model.cells import LinearInit, State, mlp, state_shapes
from contextual_rnn.registry import Registered


class InitialState(nn.Module, Registered, register=False):
    """Base class: ``forward(context (B, C) or None, batch_size, sample=None) -> state``.

    One whose first operation is a linear map of the context names it ``context_map`` and
    accepts ``mapped=True``: the context already went through that map (``network.embed``).
    """

    #: True when the strategy needs a context tensor (the task must provide one).
    uses_context: bool = False
    context_map: nn.Module | None = None

    def __init__(self, cell: nn.Module, context_size: int = 0):
        super().__init__()
        self.shapes = state_shapes(cell)
        self.state_numel = sum(prod(shape) for shape in self.shapes)
        self.context_size = context_size

    @property
    def stochastic(self) -> bool:
        """True when repeated calls with ``sample=True`` give different states."""
        return False

    def sampling(self, sample: bool | None) -> bool:
        """``sample=None`` samples while training and returns the mean otherwise."""
        return self.training if sample is None else sample

    def split(self, flat: torch.Tensor, batch_size: int) -> State:
        """The state cut from ``flat`` (batch_size or 1, state_numel): each piece in torch's
        layout, (layers, batch, ...); a flat state of batch 1 is shared by the batch."""
        pieces = flat.split([prod(shape) for shape in self.shapes], dim=-1)
        state = tuple(
            piece.reshape(len(flat), *shape).movedim(0, 1).expand(shape[0], batch_size, *shape[1:])
            for piece, shape in zip(pieces, self.shapes, strict=True)
        )
        return state if len(state) > 1 else state[0]

    def forward(
        self, context: torch.Tensor | None, batch_size: int, sample: bool | None = None
    ) -> State:
        raise NotImplementedError


class ZeroInit(InitialState):
    """h0 = 0: the usual constant initial state (the paper's eq. 2a)."""

    def __init__(self, cell, context_size: int = 0):
        super().__init__(cell, context_size)
        # a buffer, so that it follows the model's dtype and device; not in checkpoints
        self.register_buffer("zeros", torch.zeros(1, self.state_numel), persistent=False)

    def forward(self, context, batch_size, sample=None):
        return self.split(self.zeros, batch_size)


class FreeInit(InitialState):
    """A trainable h0 shared by every sequence (eq. 2b), zeros at start.

    ``noise_std`` adds independent Gaussian noise to each sequence's copy while training
    (Zimmermann et al.'s regulariser); without noise the one state is shared by the batch.
    """

    @checked
    def __init__(self, cell, context_size: int = 0, noise_std: NonNegative = 0.0):
        super().__init__(cell, context_size)
        self.noise_std = noise_std
        self.state = nn.Parameter(torch.zeros(self.state_numel))

    @property
    def stochastic(self) -> bool:
        return self.noise_std > 0

    def forward(self, context, batch_size, sample=None):
        flat = self.state.unsqueeze(0)
        if self.noise_std > 0 and self.sampling(sample):
            noise = torch.randn(batch_size, self.state_numel, dtype=flat.dtype, device=flat.device)
            flat = flat + self.noise_std * noise
        return self.split(flat, batch_size)


ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class ContextualInit(InitialState):
    """h0 = g(context) (eq. 2c), deterministic or a reparameterised Normal.

    g is an MLP from the context to *every* scalar of the cell's state: (h, c) for an
    LSTM, (h, A) with A reshaped from H*H outputs for fast weights. With
    ``distribution: normal``, h0 ~ N(g(context), softplus(s)) where s is one free vector
    initialised so that the scale starts at ``sigma_init``: a sample (reparameterised)
    while training or when asked, the mean otherwise. ``init``: ``he`` (the authors' code:
    He truncated normal kernels, zero biases) or ``torch`` (nn.Linear's default).
    """

    uses_context = True

    @checked
    def __init__(
        self,
        cell,
        context_size: int,
        hidden_sizes: PositiveInts = (),
        activation: choice("relu", "tanh") = "relu",
        distribution: choice("deterministic", "normal") = "normal",
        sigma_init: PositiveFloat = 0.25,
        init: LinearInit = "he",
    ):
        super().__init__(cell, context_size)
        sizes = list(hidden_sizes)
        self.net = mlp(context_size, sizes, self.state_numel, init, ACTIVATIONS[activation])
        self.distribution = distribution
        if distribution == "normal":
            self.raw_scale = nn.Parameter(
                torch.full((self.state_numel,), inverse_softplus(sigma_init))
            )

    @property
    def context_map(self) -> nn.Linear:
        return self.net[0]

    @property
    def stochastic(self) -> bool:
        return self.distribution == "normal"

    @property
    def scale(self) -> torch.Tensor:
        return F.softplus(self.raw_scale)

    def forward(self, context, batch_size, sample=None, mapped=False):
        if context is None:
            raise ValueError("ContextualInit needs a context tensor")
        flat = self.net[1:](context) if mapped else self.net(context)
        if self.stochastic and self.sampling(sample):
            flat = flat + self.scale * torch.randn_like(flat)
        return self.split(flat, batch_size)
