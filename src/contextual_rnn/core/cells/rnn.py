"""Elman RNN on torch's fused kernel; state (h,). ``nonlinearity`` is tanh or relu."""

from torch import nn

from contextual_rnn.core.cells.fused import FusedCell
from contextual_rnn.core.errors import PositiveInt, checked, choice


class RNN(FusedCell):
    module_class = nn.RNN

    @checked
    def __init__(
        self,
        input_size: int,
        hidden_size: PositiveInt = 128,
        num_layers: PositiveInt = 1,
        nonlinearity: choice("tanh", "relu") = "tanh",
    ):
        super().__init__(input_size, hidden_size, num_layers, nonlinearity=nonlinearity)
