"""Every initial state with every cell, the project's and torch's own: the cell's exact
state in torch's layout, and each strategy's rules."""

import pytest
import torch
from torch import nn

from contextual_rnn.model.cells import GRU, LSTM, RNN, FastWeights, state_shapes
from contextual_rnn.model.initial_states import ContextualInit, FreeInit, ZeroInit

CELLS = {
    "lstm": lambda: LSTM(2, 5, num_layers=2),
    "gru": lambda: GRU(2, 5),
    "rnn": lambda: RNN(2, 5),
    "fast_weights": lambda: FastWeights(2, 5),
    "torch-lstm-2-layers": lambda: nn.LSTM(2, 5, num_layers=2, batch_first=True),
    "torch-lstm-bidirectional-projected": lambda: nn.LSTM(
        2, 8, batch_first=True, bidirectional=True, proj_size=5
    ),
    "torch-gru-3-layers": lambda: nn.GRU(2, 5, num_layers=3, batch_first=True),
}
INITS = {
    "zero": lambda cell: ZeroInit(cell, 3),
    "free": lambda cell: FreeInit(cell, 3, noise_std=0.1),
    "contextual": lambda cell: ContextualInit(cell, 3, hidden_sizes=[7], distribution="normal"),
    "contextual_deterministic": lambda cell: ContextualInit(cell, 3, distribution="deterministic"),
}


def inputs(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 3, 2)


def tensors(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("init", INITS)
def test_state_has_the_cells_exact_structure(cell, init):
    cell = CELLS[cell]()
    strategy = INITS[init](cell)
    state = strategy(torch.randn(4, 3), 4)
    shapes = state_shapes(cell)
    assert isinstance(state, tuple) == (len(shapes) > 1)  # one tensor as itself, as torch
    for tensor, shape in zip(tensors(state), shapes, strict=True):
        assert tensor.shape == (shape[0], 4, *shape[1:])  # torch's (layers, batch, ...)
    outputs, _ = cell(inputs(), state)  # and the cell accepts it as it is
    assert outputs.shape[:2] == (4, 3)


def test_zero_is_zero_and_follows_the_models_dtype():
    state = ZeroInit(LSTM(2, 5)).double()(None, 4)
    assert all((s == 0).all() and s.dtype == torch.float64 for s in state)
    assert ZeroInit(LSTM(2, 5)).state_dict() == {}  # nothing stored in checkpoints


def test_free_is_shared_across_the_batch_and_trainable():
    cell = FastWeights(2, 4)
    init = FreeInit(cell)
    with torch.no_grad():
        init.state.uniform_()
    h, A = init(None, 6)
    assert h.shape == (1, 6, 4) and A.shape == (1, 6, 4, 4)
    assert h.stride(1) == 0 and A.stride(1) == 0  # one state for every sequence, not copies
    outputs, _ = cell(inputs(6), (h, A))
    outputs.sum().backward()
    assert init.state.grad is not None and init.state.grad.abs().sum() > 0


def test_free_noise_only_while_training():
    init = FreeInit(GRU(2, 4), noise_std=0.5)
    init.train()
    h = init(None, 3)
    assert h.shape == (1, 3, 4) and not torch.equal(h[:, 0], h[:, 1])
    init.eval()
    h = init(None, 3)
    assert (h == 0).all()


def test_contextual_sends_gradients_into_g_for_every_state_tensor():
    cell = FastWeights(2, 4)
    init = ContextualInit(cell, 3, hidden_sizes=[8], distribution="deterministic")
    h, A = init(torch.randn(5, 3), 5)
    assert A.shape == (1, 5, 4, 4)
    (h.sum() + A.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in init.net.parameters())
    assert init.net[-1].out_features == 4 + 16  # g produces A too: H + H*H outputs


def test_contextual_depends_on_context():
    init = ContextualInit(LSTM(2, 4), 3, distribution="deterministic", init="torch")
    h, _ = init(torch.randn(2, 3), 2)
    assert not torch.allclose(h[:, 0], h[:, 1])


def test_normal_samples_differ_and_mean_is_deterministic():
    torch.manual_seed(0)
    init = ContextualInit(LSTM(2, 4), 3, hidden_sizes=[5], sigma_init=0.25)
    context = torch.randn(1, 3).expand(64, 3)
    init.eval()
    mean_a, mean_b = init(context, 64), init(context, 64)
    assert all(torch.equal(a, b) for a, b in zip(mean_a, mean_b, strict=True))
    assert torch.equal(mean_a[0][:, 0], mean_a[0][:, 1])  # same context, same mean
    draws = init(context, 64, sample=True)[0]
    assert not torch.equal(draws[:, 0], draws[:, 1])
    spread = (draws - mean_a[0]).std()
    assert 0.2 < spread < 0.3  # sigma starts at 0.25
    init.train()
    assert not torch.equal(init(context[:2], 2)[0], mean_a[0][:, :2])  # samples while training


def test_normal_scale_is_learnable():
    init = ContextualInit(GRU(2, 4), 3, sigma_init=0.25)
    torch.testing.assert_close(init.scale, torch.full((4,), 0.25))
    init.train()
    h = init(torch.randn(8, 3), 8)
    h.pow(2).sum().backward()
    assert init.raw_scale.grad is not None and init.raw_scale.grad.abs().sum() > 0


def test_deterministic_contextual_ignores_sample_flag():
    init = ContextualInit(GRU(2, 4), 3, distribution="deterministic")
    context = torch.randn(3, 3)
    assert torch.equal(init(context, 3, sample=True), init(context, 3, sample=False))
    assert not init.stochastic


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize(
    "rnn",
    [
        lambda bf: nn.LSTM(4, 8, num_layers=2, batch_first=bf),
        lambda bf: nn.LSTM(4, 8, num_layers=1, batch_first=bf, bidirectional=True, proj_size=3),
        lambda bf: nn.GRU(4, 8, num_layers=3, batch_first=bf),
        lambda bf: nn.RNN(4, 8, batch_first=bf),
    ],
    ids=["lstm-2-layers", "lstm-bidirectional-projected", "gru-3-layers", "rnn"],
)
def test_a_torch_rnn_takes_the_state_as_it_is_and_h0_is_g_of_the_context(rnn, batch_first):
    torch.manual_seed(0)
    rnn = rnn(batch_first)
    h0 = ContextualInit(rnn, context_size=3, distribution="deterministic")
    inputs = torch.randn(6, 7, 4) if batch_first else torch.randn(7, 6, 4)
    context = torch.randn(6, 3)
    state = h0(context, 6)
    states = tensors(state)
    layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
    expected = [(layers, 6, rnn.proj_size or 8)] + ([(layers, 6, 8)] if len(states) == 2 else [])
    assert [tuple(s.shape) for s in states] == expected
    # the first sequence's h0 is g's output for its context, cut layer by layer
    flat = h0.net(context)[0]
    width = expected[0][2]
    assert torch.equal(states[0][:, 0].reshape(-1), flat[: layers * width])
    outputs, _ = rnn(inputs, state)  # torch accepts it as it is
    outputs.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in h0.parameters())


def test_shared_strategies_expand_to_the_batch_and_sample_per_sequence():
    gru = nn.GRU(4, 8, num_layers=2)
    zero = ZeroInit(gru)(None, 5)
    assert zero.shape == (2, 5, 8) and not zero.any()
    free = FreeInit(gru, noise_std=0.5)
    free.train()
    noisy = free(None, 5)
    assert noisy.shape == (2, 5, 8) and not torch.equal(noisy[:, 0], noisy[:, 1])
    free.eval()
    assert not free(None, 5).any()  # the mean: the trained h0, zeros at start
    outputs, _ = gru(torch.randn(7, 5, 4), free(None, 5))  # time-major: 5 sequences
    assert outputs.shape == (7, 5, 8)


def test_anything_but_a_cell_or_a_torch_rnn_is_refused():
    with pytest.raises(TypeError, match="nn.LSTM, nn.GRU or nn.RNN"):
        ZeroInit(nn.Linear(3, 3))
