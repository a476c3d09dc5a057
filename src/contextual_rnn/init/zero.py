"""h0 = 0: the usual constant initial state (the paper's eq. 2a)."""

import torch

from contextual_rnn.init.base import InitialState


class ZeroInit(InitialState):
    def __init__(self, cell, context_size: int = 0):
        super().__init__(cell, context_size)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)  # device and dtype

    def forward(self, batch_size, context=None, sample=None):
        return self.split(self._anchor.new_zeros(batch_size, self.state_numel))
