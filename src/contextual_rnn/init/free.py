"""A trainable h0 shared by every sequence (eq. 2b), zeros at start.

The one learned state is tiled over the batch; ``noise_std`` adds independent
Gaussian noise to each copy while training (Zimmermann et al.'s regulariser).
"""

import torch
from torch import nn

from contextual_rnn.errors import require
from contextual_rnn.init.base import InitialState


class FreeInit(InitialState):
    def __init__(self, cell, context_size: int = 0, noise_std: float = 0.0):
        super().__init__(cell, context_size)
        require(noise_std >= 0, "noise_std", noise_std, "a number >= 0")
        self.noise_std = float(noise_std)
        self.state = nn.Parameter(torch.zeros(self.state_numel))

    @property
    def stochastic(self) -> bool:
        return self.noise_std > 0

    def forward(self, batch_size, context=None, sample=None):
        flat = self.state.expand(batch_size, -1)
        if self.noise_std > 0 and (self.training if sample is None else sample):
            flat = flat + self.noise_std * torch.randn_like(flat)
        return self.split(flat)
