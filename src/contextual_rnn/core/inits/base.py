"""The interface every initial-state strategy shares.

A strategy is built from the cell it serves (``cell.state_shapes``, ``cell.split_state``)
and the size of the context it may read. Called as ``strategy(inputs, context, sample)``,
the way torch's RNNs build their zero state from the input, it returns a state of
exactly the cell's structure. Each tensor's batch dimension is the batch size of
``inputs``, or 1 for a state every sequence shares. It knows nothing about the task.

A new strategy is one subclass (it registers itself, see ``core.registry``) plus one
YAML under ``conf/model/init/`` naming it in ``_target_``.
"""

import torch
from torch import nn

from contextual_rnn.core.cells.base import RecurrentCell, State
from contextual_rnn.core.registry import Registered


class InitialState(nn.Module, Registered, register=False):
    #: True when the strategy needs a context tensor (the task must provide one).
    uses_context: bool = False

    def __init__(self, cell: RecurrentCell, context_size: int = 0):
        super().__init__()
        self.state_numel = cell.state_numel
        self.split = cell.split_state
        self.context_size = context_size

    @property
    def stochastic(self) -> bool:
        """True when repeated calls with ``sample=True`` give different states."""
        return False

    def sampling(self, sample: bool | None) -> bool:
        """``sample=None`` samples while training and returns the mean otherwise."""
        return self.training if sample is None else sample

    def forward(
        self,
        inputs: torch.Tensor,
        context: torch.Tensor | None = None,
        sample: bool | None = None,
    ) -> State:
        """The state for ``inputs`` (B, T, I) and ``context`` (B, C) or None."""
        raise NotImplementedError
