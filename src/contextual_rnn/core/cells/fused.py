"""Shared wrapper for torch's fused recurrent modules (nn.LSTM, nn.GRU, nn.RNN)."""

import torch
from torch import nn

from contextual_rnn.core.cells.base import RecurrentCell, State


class FusedCell(RecurrentCell, register=False):
    """Runs a fused torch module; states are kept batch-first as (B, layers, H).

    Subclasses set ``module_class`` and ``state_names``; torch's own
    ``(layers, B, H)`` layout is used only inside ``forward``. The module runs
    time-major, its native layout: the outputs come back as a (B, T, H) view of its
    (T, B, H) result, with no copy forward or backward (a batch-first module copies
    both ways), and the network's readout follows that layout.
    """

    module_class: type[nn.RNNBase]
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int = 128, num_layers: int = 1, **kwargs):
        super().__init__()
        self.input_size = input_size
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.rnn = self.module_class(input_size, hidden_size, num_layers=num_layers, **kwargs)
        self.state_shapes = tuple((num_layers, hidden_size) for _ in self.state_names)

    def forward(
        self, inputs: torch.Tensor, state: State, return_state: bool = True
    ) -> tuple[torch.Tensor, State]:
        batch = inputs.shape[0]
        torch_state = tuple(s.expand(batch, -1, -1).transpose(0, 1).contiguous() for s in state)
        outputs, new_state = self.rnn(
            inputs.transpose(0, 1), torch_state if len(torch_state) > 1 else torch_state[0]
        )
        if isinstance(new_state, torch.Tensor):
            new_state = (new_state,)
        return outputs.transpose(0, 1), tuple(s.transpose(0, 1) for s in new_state)
