"""The recurrent cells, their state layout and the initialisers they share.

A cell is ``forward(inputs (B, T, I), state) -> (outputs (B, T, H), state)``, batch-first,
and its state is torch's own ``hx``: ``(h, c)`` for an LSTM and ``h`` alone (a tensor, as
torch takes it) for a GRU or an RNN, each (num_layers, B, H); ``(h, A)`` for fast weights,
h (1, B, H) and A (1, B, H, H). ``state_shapes`` gives each state tensor's shape without
its batch dimension (dimension 1), for the project's cells and torch's nn.LSTM / nn.GRU /
nn.RNN alike: initial states read it and never need to know which cell they serve.

A new cell is one ``RecurrentCell`` subclass (it registers itself, see ``registry``)
plus one YAML under ``conf/model/cell/`` naming it in ``_target_``.

Initialisers of the authors' TensorFlow 1.12 code, next to torch's defaults (sources for
every use: docs/paper_setup.md):

- ``he``: TF's ``variance_scaling_initializer(scale=2.0)``, whose default distribution is a
  normal truncated at two standard deviations, rescaled so that the truncated values have
  standard deviation sqrt(2 / fan_in); biases zero. The authors' code uses it for every
  dense layer (context network g, ART's dense 100 and logits, LCD's output). ``torch``:
  ``nn.Linear``'s own default, U(+-1/sqrt(fan_in)) for both.
- ``glorot_uniform_``: TF's default for variables created without an initialiser,
  U(+-sqrt(6 / (fan_in + fan_out))); a vector of size n has fan_in = fan_out = n.
"""

import math

import torch
from annotated_types import Ge, Le
from torch import nn

from contextual_rnn.errors import FiniteFloat, PositiveInt, checked, choice, number
from contextual_rnn.model.fast_weights import fast_weights_reference, fast_weights_sequence
from contextual_rnn.registry import Registered

State = torch.Tensor | tuple[torch.Tensor, ...]
LinearInit = choice("he", "torch")
# scipy.stats.truncnorm(-2, 2).std(): TF divides by it so the truncated values keep the std.
TRUNCATED_STD = 0.87962566103423978


@torch.no_grad()
def glorot_uniform_(tensor: torch.Tensor, fan_in: int, fan_out: int) -> torch.Tensor:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return tensor.uniform_(-bound, bound)


@torch.no_grad()
def init_linear(layer: nn.Linear, scheme: str) -> nn.Linear:
    """Initialise a Linear layer by ``scheme`` (``he`` or ``torch``)."""
    if scheme == "he":
        std = math.sqrt(2.0 / layer.in_features) / TRUNCATED_STD
        nn.init.trunc_normal_(layer.weight, 0.0, std, -2 * std, 2 * std)
        if layer.bias is not None:
            layer.bias.zero_()
    else:
        layer.reset_parameters()
    return layer


def mlp(
    in_size: int,
    hidden_sizes: list[int],
    out_size: int,
    init: str = "torch",
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Linear layers with ``activation`` between them; one Linear when hidden_sizes is empty."""
    layers, width = [], in_size
    for size in hidden_sizes:
        layers += [init_linear(nn.Linear(width, size), init), activation()]
        width = size
    layers.append(init_linear(nn.Linear(width, out_size), init))
    return nn.Sequential(*layers)


class RecurrentCell(nn.Module, Registered, register=False):
    """Base class. Subclasses take ``input_size`` first (the model provides it) and their
    options as keyword arguments with defaults, and set ``hidden_size`` and ``state_shapes``.

    A cell whose first operation is a linear map of each step's input names that map
    ``input_map`` and accepts ``mapped=True``: its inputs already went through the map (the
    model maps an embedding table once instead of every position, ``network.embed``).
    ``return_state=False`` lets a cell skip forming the final state (it may return None).
    """

    input_size: int
    hidden_size: int
    state_shapes: tuple[tuple[int, ...], ...]
    input_map: nn.Module | None = None

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def forward(
        self, inputs: torch.Tensor, state: State, return_state: bool = True
    ) -> tuple[torch.Tensor, State | None]:
        raise NotImplementedError


def state_shapes(cell: nn.Module) -> tuple[tuple[int, ...], ...]:
    """Each state tensor's shape without its batch dimension, for a ``RecurrentCell`` or a
    torch nn.LSTM / nn.GRU / nn.RNN (any num_layers, bidirectional or projected)."""
    if isinstance(cell, RecurrentCell):
        return cell.state_shapes
    if not isinstance(cell, nn.RNNBase):
        raise TypeError(f"expected a cell, nn.LSTM, nn.GRU or nn.RNN, got {type(cell).__name__}")
    layers = cell.num_layers * (2 if cell.bidirectional else 1)
    hidden = (layers, cell.proj_size or cell.hidden_size)  # an LSTM's h may be projected
    return (hidden, (layers, cell.hidden_size)) if isinstance(cell, nn.LSTM) else (hidden,)


class FusedCell(RecurrentCell, register=False):
    """torch's fused module with ``batch_first=True`` (the project's cells are batch-first;
    they take no ``batch_first`` option) and its own state. torch runs it time-major: the
    outputs are a (B, T, H) view of (T, B, H) memory, which the network's readout reads in
    that order."""

    module_class: type[nn.RNNBase]

    def __init__(self, input_size: int, hidden_size: int = 128, num_layers: int = 1, **kwargs):
        super().__init__()
        self.input_size = input_size
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.rnn = self.module_class(
            input_size, hidden_size, num_layers=num_layers, batch_first=True, **kwargs
        )
        self.state_shapes = state_shapes(self.rnn)

    def forward(self, inputs, state, return_state=True):
        return self.rnn(inputs, state)


class LSTM(FusedCell):
    """torch's LSTM, batch-first; state (h, c).

    ``weight_init`` and ``forget_bias`` give the authors' TensorFlow LSTMCell
    (docs/paper_setup.md): ``glorot`` draws each layer's input and recurrent weights as one
    glorot-uniform kernel of shape (input + H, 4H) and zeroes the biases; TF adds
    ``forget_bias`` (1.0) to the forget gate at every step, which with a trainable bias is
    the same as starting that bias at 1.0. ``torch`` keeps nn.LSTM's own U(+-1/sqrt(H)) for
    everything; ``forget_bias`` is then added on top (0: unchanged).
    """

    module_class = nn.LSTM

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
        with torch.no_grad():
            for layer in range(num_layers):
                weight_ih = getattr(self.rnn, f"weight_ih_l{layer}")
                bias_ih = getattr(self.rnn, f"bias_ih_l{layer}")
                if weight_init == "glorot":
                    fan_in, fan_out = weight_ih.shape[1] + hidden_size, 4 * hidden_size
                    glorot_uniform_(weight_ih, fan_in, fan_out)
                    glorot_uniform_(getattr(self.rnn, f"weight_hh_l{layer}"), fan_in, fan_out)
                    bias_ih.zero_()
                    getattr(self.rnn, f"bias_hh_l{layer}").zero_()
                bias_ih[hidden_size : 2 * hidden_size] += forget_bias  # gates: i, f, g, o


class GRU(FusedCell):
    """torch's GRU, batch-first, with its default initialisation; state h."""

    module_class = nn.GRU

    @checked
    def __init__(
        self, input_size: int, hidden_size: PositiveInt = 128, num_layers: PositiveInt = 1
    ):
        super().__init__(input_size, hidden_size, num_layers)


class RNN(FusedCell):
    """torch's Elman RNN, batch-first; state h. ``nonlinearity`` is tanh or relu."""

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


Decay = number("a finite number in [0.0, 1.0]", Ge(0), Le(1))


class FastWeights(RecurrentCell):
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

    ``implementation``: ``fast`` (``fast_weights_sequence``: A_t never formed, hand-written
    backward) or ``reference`` (``fast_weights_reference``: the equations as they stand).
    Both give the same numbers. A memory the batch shares (an expanded A, as zero and free
    initial states give it) takes the kernel's cheaper shared path.
    """

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
        self.state_shapes = ((1, hidden_size), (1, hidden_size, hidden_size))
        self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False)  # W
        self.input = nn.Linear(input_size, hidden_size)  # C and b
        self.norm = nn.LayerNorm(hidden_size)
        with torch.no_grad():
            for layer in (self.recurrent, self.input):
                if weight_init == "identity":
                    layer.weight.copy_(0.05 * torch.eye(*layer.weight.shape))
                else:
                    bound = 1.0 / math.sqrt(hidden_size)
                    layer.weight.uniform_(-bound, bound)
            if input_bias == "glorot":
                glorot_uniform_(self.input.bias, hidden_size, hidden_size)
            elif input_bias == "zeros":
                self.input.bias.zero_()
            else:
                bound = 1.0 / math.sqrt(input_size)
                self.input.bias.uniform_(-bound, bound)

    @property
    def input_map(self) -> nn.Linear:
        return self.input

    def forward(self, inputs, state, return_state=True, mapped=False):
        h, fast = state[0][0], state[1][0]  # layer 0: (B, H) and (B, H, H)
        if fast.stride(0) == 0:  # one memory shared by the batch
            fast = fast[:1]
        run = fast_weights_sequence if self.implementation == "fast" else fast_weights_reference
        outputs, final = run(
            inputs if mapped else self.input(inputs), h, fast, self.recurrent.weight,
            self.norm, self.decay, self.eta, self.inner_steps, self.update == "preliminary",
            return_state,
        )  # fmt: skip
        return outputs, None if final is None else tuple(s.unsqueeze(0) for s in final)
