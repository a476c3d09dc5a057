"""Elman RNN on torch's fused kernel; state (h,). ``nonlinearity`` is tanh or relu."""

from torch import nn

from contextual_rnn.core.cells.fused import FusedCell
from contextual_rnn.core.errors import one_of


class RNN(FusedCell):
    module_class = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
    ):
        one_of("nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, nonlinearity=nonlinearity)
