"""ContextualRNN: a cell, an initial-state strategy and a readout, usable on its own.

The network owns the state: ``start`` builds h0 from the inputs and the context,
``step`` advances a state over one or more steps and reads out, ``forward`` is the
two together. Training, rollouts, generation and the command line all go through
these; nothing else calls the initial-state strategy.
"""

import torch
from torch import nn

from contextual_rnn.core.cells.base import RecurrentCell, State
from contextual_rnn.core.inits.base import InitialState


class ContextualRNN(nn.Module):
    def __init__(self, cell: RecurrentCell, initial_state: InitialState, readout: nn.Module):
        super().__init__()
        self.cell, self.initial_state, self.readout = cell, initial_state, readout

    @property
    def stochastic(self) -> bool:
        """True when sampled initial states differ from one another."""
        return self.initial_state.stochastic

    def start(
        self,
        inputs: torch.Tensor,
        context: torch.Tensor | None = None,
        sample: bool | None = None,
    ) -> State:
        """h0 for ``inputs`` (B, T, I): ``sample=None`` samples while training only."""
        return self.initial_state(inputs, context, sample)

    def step(
        self, inputs: torch.Tensor, state: State, return_state: bool = True
    ) -> tuple[torch.Tensor, State | None]:
        """Run ``inputs`` (B, T, I) from ``state``: readout outputs (B, T, O) and the new state."""
        hidden, state = self.cell(inputs, state, return_state)
        return self.read(hidden), state

    def read(self, hidden: torch.Tensor) -> torch.Tensor:
        """The readout of (B, T, H) outputs. It maps each step on its own, so it runs in the
        order the outputs lie in memory: time-major outputs (a fused cell's) are read
        without copying them, forward and backward; only the (much smaller) readout is
        made batch-first."""
        if not hidden.is_contiguous() and hidden.transpose(0, 1).is_contiguous():
            return self.readout(hidden.transpose(0, 1)).transpose(0, 1).contiguous()
        return self.readout(hidden)

    def forward(
        self,
        inputs: torch.Tensor,
        context: torch.Tensor | None = None,
        sample: bool | None = None,
        return_state: bool = True,
    ) -> tuple[torch.Tensor, State | None]:
        """inputs (B, T, I) -> readout outputs (B, T, O) and the final state."""
        return self.step(inputs, self.start(inputs, context, sample), return_state)
