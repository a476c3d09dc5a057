"""Fast-weights RNN (Ba et al. 2016, "Using Fast Weights to Attend to the Recent Past").

Per step, with slow weights W (H x H), C (H x I), input bias b and fast memory A (H x H):

    z_t   = W h_{t-1} + C x_t + b
    A_t   = decay * A_{t-1} + eta * u u^T      u = h_{t-1} ("previous", Ba et al.)
                                               u = ReLU(z_t) ("preliminary", authors' code)
    h^0   = ReLU(z_t)
    h^s+1 = ReLU(LayerNorm(z_t + A_t h^s))    for s < inner_steps
    h_t   = h^S

LayerNorm normalises each sample over its hidden units (gain 1, shift 0 at start).
The state is (h, A). Initialisation options, with their sources in docs/paper_setup.md:

- ``weight_init``: ``identity`` (W and C = 0.05 I, C rectangular; the authors' code) or
  ``uniform`` (U(+-1/sqrt(H)); Ba et al.'s appendix).
- ``input_bias``: ``glorot`` (U(+-sqrt(3/H)): the authors' code creates b without an
  initialiser, so TensorFlow's default glorot-uniform applies), ``zeros``, or ``torch``
  (nn.Linear's U(+-1/sqrt(input_size))). With a zero b, a zero embedding and a zero h0
  every pre-activation is 0, a fixed point where nothing below the readout learns.

``implementation``: ``fast`` (``core.ops.fast_weights``: A_t never formed, hand-written
backward) or ``reference`` (``core.ops.fast_weights_reference``: the equations as they
stand). Both give the same numbers.
"""

import math

import torch
from annotated_types import Ge, Le
from torch import nn

from contextual_rnn.core.cells.base import RecurrentCell, State
from contextual_rnn.core.errors import FiniteFloat, PositiveInt, checked, choice, number
from contextual_rnn.core.initializers import glorot_uniform_
from contextual_rnn.core.ops.fast_weights import fast_weights_sequence
from contextual_rnn.core.ops.fast_weights_reference import fast_weights_reference

IMPLEMENTATIONS = {"fast": fast_weights_sequence, "reference": fast_weights_reference}
Decay = number("a finite number in [0.0, 1.0]", Ge(0), Le(1))


class FastWeights(RecurrentCell):
    """The cell of the equations above; state (h, A)."""

    @checked
    def __init__(
        self,
        input_size: PositiveInt,
        hidden_size: PositiveInt = 50,
        decay: Decay = 0.95,
        eta: FiniteFloat = 0.5,
        inner_steps: PositiveInt = 1,
        update: choice("previous", "preliminary") = "preliminary",
        weight_init: choice("identity", "uniform") = "identity",
        input_bias: choice("glorot", "zeros", "torch") = "glorot",
        implementation: choice("fast", "reference") = "fast",
    ):
        super().__init__()
        self.input_size, self.hidden_size, self.inner_steps = input_size, hidden_size, inner_steps
        self.decay, self.eta = float(decay), float(eta)
        self.update, self.implementation = update, implementation
        self.state_shapes = ((hidden_size,), (hidden_size, hidden_size))
        self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False)  # W
        self.input = nn.Linear(input_size, hidden_size)  # C and b
        self.norm = nn.LayerNorm(hidden_size)
        self.reset_parameters(weight_init, input_bias)

    @torch.no_grad()
    def reset_parameters(self, weight_init: str, input_bias: str) -> None:
        for layer in (self.recurrent, self.input):
            if weight_init == "identity":
                layer.weight.copy_(0.05 * torch.eye(*layer.weight.shape))
            else:
                bound = 1.0 / math.sqrt(self.hidden_size)
                layer.weight.uniform_(-bound, bound)
        if input_bias == "glorot":
            glorot_uniform_(self.input.bias, self.hidden_size, self.hidden_size)
        elif input_bias == "zeros":
            self.input.bias.zero_()
        else:
            bound = 1.0 / math.sqrt(self.input_size)
            self.input.bias.uniform_(-bound, bound)

    def forward(
        self, inputs: torch.Tensor, state: State, return_state: bool = True
    ) -> tuple[torch.Tensor, State | None]:
        h, fast = state
        return IMPLEMENTATIONS[self.implementation](
            self.input(inputs), h, fast, self.recurrent.weight, self.norm, self.decay,
            self.eta, self.inner_steps, self.update == "preliminary", return_state,
        )  # fmt: skip
