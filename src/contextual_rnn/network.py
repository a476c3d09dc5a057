"""ContextualRNN: a cell, an initial-state strategy and a readout, usable on its own.

This is the piece to drop into your own model: give it inputs and (for a
contextual init) a context tensor; it builds h0, runs the cell and reads out.
"""

import torch
from torch import nn

from contextual_rnn.cells.base import RecurrentCell, State
from contextual_rnn.errors import positive_int
from contextual_rnn.init.base import InitialState


def mlp(in_size: int, hidden_sizes: list[int], out_size: int, key: str = "hidden_sizes"):
    """Linear layers with ReLU between them; a single Linear when hidden_sizes is empty."""
    layers, width = [], in_size
    for i, size in enumerate(hidden_sizes):
        layers += [nn.Linear(width, positive_int(f"{key}[{i}]", size)), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, out_size))
    return nn.Sequential(*layers)


class ContextualRNN(nn.Module):
    def __init__(self, cell: RecurrentCell, initial_state: InitialState, readout: nn.Module):
        super().__init__()
        self.cell, self.initial_state, self.readout = cell, initial_state, readout

    def forward(
        self,
        inputs: torch.Tensor,
        context: torch.Tensor | None = None,
        state: State | None = None,
        sample: bool | None = None,
    ) -> tuple[torch.Tensor, State]:
        """inputs (B, T, I) -> readout outputs (B, T, O) and the final state.

        ``state`` continues from a previous call (autoregressive generation);
        otherwise h0 comes from the initial-state strategy.
        """
        if state is None:
            state = self.initial_state(inputs.shape[0], context, sample)
        hidden, state = self.cell(inputs, state)
        return self.readout(hidden), state
