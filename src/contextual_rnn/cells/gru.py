"""GRU on torch's fused kernel; state (h,)."""

from torch import nn

from contextual_rnn.cells.fused import FusedCell


class GRU(FusedCell):
    module_class = nn.GRU
