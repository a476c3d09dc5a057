"""Every cell: its state in torch's layout, gradients, step-by-step continuation, and the
formulas."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.errors import ConfigError
from contextual_rnn.model.cells import GRU, LSTM, RNN, FastWeights, state_shapes

CELLS = {
    "lstm": lambda: LSTM(3, 6, num_layers=2),
    "gru": lambda: GRU(3, 6),
    "rnn": lambda: RNN(3, 6, nonlinearity="relu"),
    "fast_weights": lambda: FastWeights(3, 6, inner_steps=2),
}
EXPECTED_SHAPES = {
    "lstm": ((2, 6), (2, 6)),
    "gru": ((1, 6),),
    "rnn": ((1, 6),),
    "fast_weights": ((1, 6), (1, 6, 6)),
}


def tensors(state):
    """The state as a tuple: torch gives a one-tensor state (GRU, RNN) as the tensor itself."""
    return state if isinstance(state, tuple) else (state,)


def random_state(cell, batch):
    """A state in torch's layout: (layers, batch, ...), as torch's own modules take it."""
    state = tuple(
        torch.randn(shape[0], batch, *shape[1:], requires_grad=True) for shape in cell.state_shapes
    )
    return state if len(state) > 1 else state[0]


@pytest.mark.parametrize("name", CELLS)
def test_shapes_and_gradients(name):
    torch.manual_seed(0)
    cell = CELLS[name]()
    assert cell.state_shapes == EXPECTED_SHAPES[name]
    state = random_state(cell, 4)
    inputs = torch.randn(4, 5, 3, requires_grad=True)
    outputs, final = cell(inputs, state)
    assert outputs.shape == (4, 5, 6)
    assert type(final) is type(state)
    shapes = [torch.Size([sh[0], 4, *sh[1:]]) for sh in cell.state_shapes]
    assert [s.shape for s in tensors(final)] == shapes
    (outputs.sum() + sum(s.sum() for s in tensors(final))).backward()
    for tensor in (inputs, *tensors(state)):
        assert tensor.grad is not None and tensor.grad.abs().sum() > 0
    assert all(p.grad is not None for p in cell.parameters())


@pytest.mark.parametrize("name", CELLS)
def test_a_state_shared_by_the_batch_gives_the_numbers_of_its_copies(name):
    """Zero and free initial states give one state expanded over the batch (no copies)."""
    torch.manual_seed(4)
    cell = CELLS[name]()
    shared = tensors(random_state(cell, 1))
    inputs = torch.randn(3, 4, 3)
    expanded = tuple(s.expand(s.shape[0], 3, *s.shape[2:]) for s in shared)
    broadcast, _ = cell(inputs, expanded if len(expanded) > 1 else expanded[0])
    tiled = tuple(s.contiguous() for s in expanded)
    tiled, _ = cell(inputs, tiled if len(tiled) > 1 else tiled[0])
    torch.testing.assert_close(broadcast, tiled)


@pytest.mark.parametrize("name", CELLS)
def test_a_cell_continues_its_own_state(name):
    """Running T steps at once equals running them one at a time (generation relies on it)."""
    torch.manual_seed(1)
    cell = CELLS[name]().double()
    inputs = torch.randn(2, 4, 3, dtype=torch.double)
    state = tuple(s.detach().double() for s in tensors(random_state(cell, 2)))
    state = state if len(state) > 1 else state[0]
    whole, _ = cell(inputs, state)
    parts = []
    with torch.no_grad():
        for t in range(4):
            out, state = cell(inputs[:, t : t + 1], state)
            parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), whole.detach())


def reference_fast_weights(cell, x, h, A):
    """Ba et al.'s equations written out for one sample at a time."""
    W, C, b = cell.recurrent.weight, cell.input.weight, cell.input.bias
    gain, shift = cell.norm.weight, cell.norm.bias
    outs = []
    for t in range(x.shape[0]):
        z = W @ h + C @ x[t] + b
        hs = torch.relu(z)
        u = h if cell.update == "previous" else hs
        A = cell.decay * A + cell.eta * torch.outer(u, u)
        for _ in range(cell.inner_steps):
            a = z + A @ hs
            normed = (a - a.mean()) / torch.sqrt(a.var(unbiased=False) + cell.norm.eps)
            hs = torch.relu(gain * normed + shift)
        h = hs
        outs.append(h)
    return torch.stack(outs), h, A


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("update", ["previous", "preliminary"])
@pytest.mark.parametrize("weight_init", ["identity", "uniform"])
def test_fast_weights_matches_the_formulas(implementation, update, weight_init):
    torch.manual_seed(2)
    cell = FastWeights(
        3, 5, inner_steps=2, update=update, weight_init=weight_init, implementation=implementation
    ).double()
    with torch.no_grad():  # non-trivial LayerNorm parameters
        cell.norm.weight.uniform_(0.5, 1.5)
        cell.norm.bias.uniform_(-0.1, 0.1)
    x = torch.randn(3, 6, 3, dtype=torch.double)
    h0, A0 = torch.randn(3, 5, dtype=torch.double), torch.randn(3, 5, 5, dtype=torch.double)
    outputs, (h, A) = cell(x, (h0[None], A0[None]))  # one layer: (1, B, H), (1, B, H, H)
    assert h.shape == (1, 3, 5) and A.shape == (1, 3, 5, 5)
    for i in range(3):
        ref_out, ref_h, ref_A = reference_fast_weights(cell, x[i], h0[i], A0[i])
        torch.testing.assert_close(outputs[i], ref_out)
        torch.testing.assert_close(h[0, i], ref_h)
        torch.testing.assert_close(A[0, i], ref_A)


def test_layer_norm_is_per_sample():
    """One sample's output must not depend on the other samples in the batch."""
    torch.manual_seed(3)
    cell = FastWeights(3, 5)
    x, h, A = torch.randn(4, 2, 3), torch.randn(1, 4, 5), torch.randn(1, 4, 5, 5)
    together, _ = cell(x, (h, A))
    alone, _ = cell(x[:1], (h[:, :1], A[:, :1]))
    torch.testing.assert_close(together[:1], alone)


@pytest.mark.parametrize(
    "kwargs,key",
    [
        ({"update": "latest"}, "update"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"decay": 1.5}, "decay"),
        ({"input_bias": "ones"}, "input_bias"),
        ({"implementation": "compiled"}, "implementation"),
    ],
)
def test_fast_weights_refuses_bad_options(kwargs, key):
    with pytest.raises(ConfigError) as error:
        FastWeights(3, **{"hidden_size": 4, **kwargs})
    assert error.value.key == key


def test_relu_rnn_is_relu():
    cell = RNN(2, 3, nonlinearity="relu")
    out, _ = cell(torch.randn(5, 4, 2), torch.zeros(1, 5, 3))
    assert (out >= 0).all()
    assert F.relu(out).equal(out)


def test_the_fused_cells_are_batch_first_and_take_no_batch_first():
    assert LSTM(3, 6).rnn.batch_first
    with pytest.raises(ConfigError) as error:
        LSTM(3, 6, batch_first=False)
    assert error.value.key == "batch_first"


@pytest.mark.parametrize(
    "rnn,shapes",
    [
        (nn.LSTM(4, 8, num_layers=2), ((2, 8), (2, 8))),
        (nn.LSTM(4, 8, bidirectional=True, proj_size=3), ((2, 3), (2, 8))),
        (nn.GRU(4, 8, num_layers=3, batch_first=True), ((3, 8),)),
        (nn.RNN(4, 8), ((1, 8),)),
    ],
    ids=["lstm-2-layers", "lstm-bidirectional-projected", "gru-3-layers", "rnn"],
)
def test_state_shapes_of_torchs_own_modules(rnn, shapes):
    assert state_shapes(rnn) == shapes
