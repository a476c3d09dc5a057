"""Fast-weights RNN (Ba et al. 2016, "Using Fast Weights to Attend to the Recent Past").

Per step, with slow weights W (H x H), C (H x I), b and fast memory A (H x H):

    z_t   = W h_{t-1} + C x_t + b
    A_t   = decay * A_{t-1} + eta * u u^T      u = h_{t-1} ("previous", Ba et al.)
                                               u = ReLU(z_t) ("preliminary", authors' code)
    h^0   = ReLU(z_t)
    h^s+1 = ReLU(LayerNorm(z_t + A_t h^s))    for s < inner_steps
    h_t   = h^S

LayerNorm normalises each sample over its hidden units. The state is (h, A).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.cells.base import RecurrentCell, State
from contextual_rnn.errors import positive_int, require

UPDATES = ("previous", "preliminary")
WEIGHT_INITS = ("identity", "uniform")


class FastWeights(RecurrentCell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int = 50,
        decay: float = 0.95,
        eta: float = 0.5,
        inner_steps: int = 1,
        update: str = "previous",
        weight_init: str = "identity",
    ):
        super().__init__()
        require(0.0 <= decay <= 1.0, "decay", decay, "a number in [0, 1]")
        require(update in UPDATES, "update", update, " or ".join(UPDATES))
        require(weight_init in WEIGHT_INITS, "weight_init", weight_init, " or ".join(WEIGHT_INITS))
        self.input_size = input_size
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.inner_steps = positive_int("inner_steps", inner_steps)
        self.decay, self.eta, self.update = float(decay), float(eta), update
        self.state_shapes = ((hidden_size,), (hidden_size, hidden_size))
        self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False)  # W
        self.input = nn.Linear(input_size, hidden_size)  # C and b
        self.norm = nn.LayerNorm(hidden_size)
        self.reset_parameters(weight_init)

    def reset_parameters(self, weight_init: str) -> None:
        """``identity``: 0.05 * I (the authors' code); ``uniform``: U(+-1/sqrt(H)) (Ba et al.)."""
        with torch.no_grad():
            for layer in (self.recurrent, self.input):
                if weight_init == "identity":
                    layer.weight.copy_(0.05 * torch.eye(*layer.weight.shape))
                else:
                    bound = 1.0 / math.sqrt(self.hidden_size)
                    layer.weight.uniform_(-bound, bound)
            self.input.bias.zero_()

    def forward(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, fast = state
        driven = self.input(inputs)  # C x_t + b for every step at once
        outputs = []
        for t in range(inputs.shape[1]):
            z = self.recurrent(h) + driven[:, t]
            h_s = F.relu(z)
            u = h if self.update == "previous" else h_s
            fast = self.decay * fast + self.eta * u.unsqueeze(2) * u.unsqueeze(1)
            for _ in range(self.inner_steps):
                h_s = F.relu(self.norm(z + torch.bmm(fast, h_s.unsqueeze(2)).squeeze(2)))
            h = h_s
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, fast)
