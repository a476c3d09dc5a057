"""GRU on torch's fused kernel with its default initialisation; state (h,)."""

from torch import nn

from contextual_rnn.core.cells.fused import FusedCell


class GRU(FusedCell):
    module_class = nn.GRU

    def __init__(self, input_size: int, hidden_size: int = 128, num_layers: int = 1):
        super().__init__(input_size, hidden_size, num_layers)
