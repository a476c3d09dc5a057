"""A trainable h0 shared by every sequence (eq. 2b), zeros at start.

``noise_std`` adds independent Gaussian noise to each sequence's copy while training
(Zimmermann et al.'s regulariser); without noise the one state is shared by the batch.
"""

import torch
from torch import nn

from contextual_rnn.core.errors import NonNegative, checked
from contextual_rnn.core.inits.base import InitialState


class FreeInit(InitialState):
    @checked
    def __init__(self, cell, context_size: int = 0, noise_std: NonNegative = 0.0):
        super().__init__(cell, context_size)
        self.noise_std = noise_std
        self.state = nn.Parameter(torch.zeros(self.state_numel))

    @property
    def stochastic(self) -> bool:
        return self.noise_std > 0

    def forward(self, inputs, context=None, sample=None):
        flat = self.state.unsqueeze(0)
        if self.noise_std > 0 and self.sampling(sample):
            noise = torch.randn(
                inputs.shape[0], self.state_numel, dtype=flat.dtype, device=flat.device
            )
            flat = flat + self.noise_std * noise
        return self.split(flat)
