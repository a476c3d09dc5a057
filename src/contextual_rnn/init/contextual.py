"""h0 = g(context) (eq. 2c), deterministic or a reparameterised Normal.

g is an MLP from the context to *every* scalar of the cell's state: (h, c) for an
LSTM, (h, A) with A reshaped from H*H outputs for fast weights. With
``distribution: normal``, h0 ~ N(g(context), softplus(s)) where s is one free
vector initialised so that the scale starts at ``sigma_init``: a sample
(reparameterised) while training or when asked, the mean otherwise.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.errors import positive_int, require
from contextual_rnn.init.base import InitialState

DISTRIBUTIONS = ("deterministic", "normal")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class ContextualInit(InitialState):
    uses_context = True

    def __init__(
        self,
        cell,
        context_size: int,
        hidden_sizes: list[int] = (),
        activation: str = "relu",
        distribution: str = "normal",
        sigma_init: float = 0.25,
    ):
        super().__init__(cell, context_size)
        require(
            distribution in DISTRIBUTIONS, "distribution", distribution, " or ".join(DISTRIBUTIONS)
        )
        require(activation in ACTIVATIONS, "activation", activation, " or ".join(ACTIVATIONS))
        require(sigma_init > 0, "sigma_init", sigma_init, "a number > 0")
        layers, width = [], context_size
        for i, size in enumerate(hidden_sizes):
            layers += [
                nn.Linear(width, positive_int(f"hidden_sizes[{i}]", size)),
                ACTIVATIONS[activation](),
            ]
            width = size
        layers.append(nn.Linear(width, self.state_numel))
        self.net = nn.Sequential(*layers)
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

    def forward(self, batch_size, context=None, sample=None):
        if context is None:
            raise ValueError("ContextualInit needs a context tensor")
        flat = self.net(context)
        if self.stochastic and (self.training if sample is None else sample):
            flat = flat + self.scale * torch.randn_like(flat)
        return self.split(flat)
