"""LSTM on torch's fused kernel; state (h, c)."""

from torch import nn

from contextual_rnn.cells.fused import FusedCell


class LSTM(FusedCell):
    module_class = nn.LSTM
    state_names = ("h", "c")
