"""h0 = g(context) (eq. 2c), deterministic or a reparameterised Normal.

g is an MLP from the context to *every* scalar of the cell's state: (h, c) for an
LSTM, (h, A) with A reshaped from H*H outputs for fast weights. With
``distribution: normal``, h0 ~ N(g(context), softplus(s)) where s is one free vector
initialised so that the scale starts at ``sigma_init``: a sample (reparameterised)
while training or when asked, the mean otherwise. ``init``: ``he`` (the authors' code:
He truncated normal kernels, zero biases) or ``torch`` (nn.Linear's default).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.core.errors import PositiveFloat, PositiveInts, checked, choice
from contextual_rnn.core.initializers import LinearInit, mlp
from contextual_rnn.core.inits.base import InitialState

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class ContextualInit(InitialState):
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
    def stochastic(self) -> bool:
        return self.distribution == "normal"

    @property
    def scale(self) -> torch.Tensor:
        return F.softplus(self.raw_scale)

    def forward(self, inputs, context=None, sample=None):
        if context is None:
            raise ValueError("ContextualInit needs a context tensor")
        flat = self.net(context)
        if self.stochastic and self.sampling(sample):
            flat = flat + self.scale * torch.randn_like(flat)
        return self.split(flat)
