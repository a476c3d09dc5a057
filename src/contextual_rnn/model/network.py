"""ContextualRNN: a cell, an initial state and a readout, usable on its own.

The network owns the state: ``start`` builds h0 from the context, ``step`` advances a
state over one or more steps and reads out, ``forward`` is the two together. Training,
rollouts and generation all go through these; nothing else calls the initial state.
"""

import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.model.cells import RecurrentCell, State
from contextual_rnn.model.initial_states import InitialState


def embed(
    tokens: torch.Tensor, table: torch.Tensor, first_map: nn.Module | None = None
) -> tuple[torch.Tensor, bool]:
    """The rows of ``table`` for ``tokens``, through ``first_map`` (a cell's ``input_map``,
    an init's ``context_map``) when given, and whether they went through it.

    ``first_map(table[tokens])`` is computed as ``first_map(table)[tokens]``: the V table
    rows are mapped once instead of the B*T positions, forward and backward. At ART's sizes
    that makes the fast-weights input map 3x and g 2x cheaper (docs/performance.md).
    """
    if first_map is None:
        return F.embedding(tokens, table), False
    return F.embedding(tokens, first_map(table)), True


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
        context: torch.Tensor | None,
        batch_size: int,
        sample: bool | None = None,
        mapped: bool = False,
    ) -> State:
        """h0 for ``batch_size`` sequences: ``sample=None`` samples while training only;
        ``mapped``: the context went through the init's ``context_map`` (``embed``)."""
        options = {"mapped": True} if mapped else {}
        return self.initial_state(context, batch_size, sample, **options)

    def step(
        self,
        inputs: torch.Tensor,
        state: State,
        return_state: bool = True,
        mapped: bool = False,
    ) -> tuple[torch.Tensor, State | None]:
        """Run ``inputs`` (B, T, I) from ``state``: readout outputs (B, T, O) and the new
        state; ``mapped``: the inputs went through the cell's ``input_map`` (``embed``)."""
        options = {"mapped": True} if mapped else {}
        hidden, state = self.cell(inputs, state, return_state, **options)
        if not hidden.is_contiguous() and hidden.transpose(0, 1).is_contiguous():
            # time-major outputs (a fused cell's) are read in their own order: no copy of
            # them either way, and the readout's gradients sum in that order
            return self.readout(hidden.transpose(0, 1)).transpose(0, 1).contiguous(), state
        return self.readout(hidden), state

    def forward(
        self,
        inputs: torch.Tensor,
        context: torch.Tensor | None = None,
        sample: bool | None = None,
        return_state: bool = True,
    ) -> tuple[torch.Tensor, State | None]:
        """inputs (B, T, I) -> readout outputs (B, T, O) and the final state."""
        state = self.start(context, inputs.shape[0], sample)
        return self.step(inputs, state, return_state)
