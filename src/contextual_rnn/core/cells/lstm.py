"""LSTM on torch's fused kernel; state (h, c).

``weight_init`` and ``forget_bias`` give the authors' TensorFlow LSTMCell
(docs/paper_setup.md): ``glorot`` draws each layer's input and recurrent weights as one
glorot-uniform kernel of shape (input + H, 4H) and zeroes the biases; TF adds
``forget_bias`` (1.0) to the forget gate at every step, which with a trainable bias
is the same as starting that bias at 1.0. ``torch`` keeps nn.LSTM's own
U(+-1/sqrt(H)) for everything; ``forget_bias`` is then added on top (0: unchanged).
"""

import torch
from torch import nn

from contextual_rnn.core.cells.fused import FusedCell
from contextual_rnn.core.errors import FiniteFloat, PositiveInt, checked, choice
from contextual_rnn.core.initializers import glorot_uniform_


class LSTM(FusedCell):
    module_class = nn.LSTM
    state_names = ("h", "c")

    @checked
    def __init__(
        self,
        input_size: int,
        hidden_size: PositiveInt = 128,
        num_layers: PositiveInt = 1,
        weight_init: choice("glorot", "torch") = "glorot",
        forget_bias: FiniteFloat = 1.0,
    ):
        super().__init__(input_size, hidden_size, num_layers)
        self.reset_parameters(weight_init, forget_bias)

    @torch.no_grad()
    def reset_parameters(self, weight_init: str, forget_bias: float) -> None:
        hidden = self.hidden_size
        for layer in range(self.num_layers):
            weight_ih = getattr(self.rnn, f"weight_ih_l{layer}")
            weight_hh = getattr(self.rnn, f"weight_hh_l{layer}")
            bias_ih = getattr(self.rnn, f"bias_ih_l{layer}")
            bias_hh = getattr(self.rnn, f"bias_hh_l{layer}")
            if weight_init == "glorot":
                fan_in, fan_out = weight_ih.shape[1] + hidden, 4 * hidden
                glorot_uniform_(weight_ih, fan_in, fan_out)
                glorot_uniform_(weight_hh, fan_in, fan_out)
                bias_ih.zero_()
                bias_hh.zero_()
            bias_ih[hidden : 2 * hidden] += forget_bias  # torch's gate order: i, f, g, o
