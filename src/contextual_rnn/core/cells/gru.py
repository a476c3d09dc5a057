"""GRU on torch's fused kernel with its default initialisation; state (h,)."""

from torch import nn

from contextual_rnn.core.cells.fused import FusedCell
from contextual_rnn.core.errors import PositiveInt, checked


class GRU(FusedCell):
    module_class = nn.GRU

    @checked
    def __init__(
        self, input_size: int, hidden_size: PositiveInt = 128, num_layers: PositiveInt = 1
    ):
        super().__init__(input_size, hidden_size, num_layers)
