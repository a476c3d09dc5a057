"""The interface every initial-state strategy shares.

A strategy is built from the cell it serves (``cell.state_shapes`` and
``cell.split_state``) and the size of the context it may read. Called as
``strategy(batch_size, context, sample)`` it returns a state of exactly the
cell's structure. It knows nothing about the task.
"""

import torch
from torch import nn

from contextual_rnn.cells.base import RecurrentCell, State


class InitialState(nn.Module):
    #: True when the strategy needs a context tensor (the task must provide one).
    uses_context: bool = False
    #: True when repeated calls with ``sample=True`` give different states.
    stochastic: bool = False

    def __init__(self, cell: RecurrentCell, context_size: int = 0):
        super().__init__()
        self.state_shapes = cell.state_shapes
        self.state_numel = cell.state_numel
        self._split = cell.split_state
        self.context_size = context_size

    def split(self, flat: torch.Tensor) -> State:
        return self._split(flat)

    def forward(
        self, batch_size: int, context: torch.Tensor | None = None, sample: bool | None = None
    ) -> State:
        """``sample=None`` samples while training and returns the mean otherwise."""
        raise NotImplementedError
