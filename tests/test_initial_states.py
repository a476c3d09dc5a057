"""Every initial-state strategy with every cell: the cell's exact structure, and its rules."""

import pytest
import torch

from contextual_rnn.core.cells.fast_weights import FastWeights
from contextual_rnn.core.cells.gru import GRU
from contextual_rnn.core.cells.lstm import LSTM
from contextual_rnn.core.cells.rnn import RNN
from contextual_rnn.core.inits.contextual import ContextualInit
from contextual_rnn.core.inits.free import FreeInit
from contextual_rnn.core.inits.zero import ZeroInit

CELLS = [
    lambda: LSTM(2, 5, num_layers=2),
    lambda: GRU(2, 5),
    lambda: RNN(2, 5),
    lambda: FastWeights(2, 5),
]
INITS = {
    "zero": lambda cell: ZeroInit(cell, 3),
    "free": lambda cell: FreeInit(cell, 3, noise_std=0.1),
    "contextual": lambda cell: ContextualInit(cell, 3, hidden_sizes=[7], distribution="normal"),
    "contextual_deterministic": lambda cell: ContextualInit(cell, 3, distribution="deterministic"),
}


def inputs(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 3, 2)


@pytest.mark.parametrize("make_cell", CELLS)
@pytest.mark.parametrize("init", INITS)
def test_state_has_the_cells_exact_structure(make_cell, init):
    cell = make_cell()
    strategy = INITS[init](cell)
    state = strategy(inputs(), torch.randn(4, 3))
    assert isinstance(state, tuple) and len(state) == len(cell.state_shapes)
    for tensor, shape in zip(state, cell.state_shapes, strict=True):
        assert tensor.shape[0] in (1, 4) and tensor.shape[1:] == shape  # 1: shared by the batch
    outputs, _ = cell(inputs(), state)  # and the cell accepts it
    assert outputs.shape == (4, 3, 5)


def test_zero_is_zero_and_follows_the_inputs_dtype():
    state = ZeroInit(LSTM(2, 5))(inputs().double())
    assert all((s == 0).all() and s.dtype == torch.float64 for s in state)


def test_free_is_shared_across_the_batch_and_trainable():
    cell = FastWeights(2, 4)
    init = FreeInit(cell)
    with torch.no_grad():
        init.state.uniform_()
    h, A = init(inputs(6))
    assert h.shape[0] == 1 and A.shape[0] == 1  # one state for every sequence
    outputs, _ = cell(inputs(6), (h, A))
    outputs.sum().backward()
    assert init.state.grad is not None and init.state.grad.abs().sum() > 0


def test_free_noise_only_while_training():
    init = FreeInit(GRU(2, 4), noise_std=0.5)
    init.train()
    (h,) = init(inputs(3))
    assert h.shape[0] == 3 and not torch.equal(h[0], h[1])
    init.eval()
    (h,) = init(inputs(3))
    assert (h == 0).all()


def test_contextual_sends_gradients_into_g_for_every_state_tensor():
    cell = FastWeights(2, 4)
    init = ContextualInit(cell, 3, hidden_sizes=[8], distribution="deterministic")
    h, A = init(inputs(5), torch.randn(5, 3))
    assert A.shape == (5, 4, 4)
    (h.sum() + A.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in init.net.parameters())
    assert init.net[-1].out_features == 4 + 16  # g produces A too: H + H*H outputs


def test_contextual_depends_on_context():
    init = ContextualInit(LSTM(2, 4), 3, distribution="deterministic", init="torch")
    h, _ = init(inputs(2), torch.randn(2, 3))
    assert not torch.allclose(h[0], h[1])


def test_normal_samples_differ_and_mean_is_deterministic():
    torch.manual_seed(0)
    init = ContextualInit(LSTM(2, 4), 3, hidden_sizes=[5], sigma_init=0.25)
    context = torch.randn(1, 3).expand(64, 3)
    init.eval()
    mean_a, mean_b = init(inputs(64), context), init(inputs(64), context)
    assert all(torch.equal(a, b) for a, b in zip(mean_a, mean_b, strict=True))
    assert torch.equal(mean_a[0][0], mean_a[0][1])  # same context, same mean
    draws = init(inputs(64), context, sample=True)[0]
    assert not torch.equal(draws[0], draws[1])
    spread = (draws - mean_a[0]).std()
    assert 0.2 < spread < 0.3  # sigma starts at 0.25
    init.train()
    assert not torch.equal(init(inputs(2), context[:2])[0], mean_a[0][:2])  # samples while training


def test_normal_scale_is_learnable():
    init = ContextualInit(GRU(2, 4), 3, sigma_init=0.25)
    torch.testing.assert_close(init.scale, torch.full((4,), 0.25))
    init.train()
    (h,) = init(inputs(8), torch.randn(8, 3))
    h.pow(2).sum().backward()
    assert init.raw_scale.grad is not None and init.raw_scale.grad.abs().sum() > 0


def test_deterministic_contextual_ignores_sample_flag():
    init = ContextualInit(GRU(2, 4), 3, distribution="deterministic")
    context = torch.randn(3, 3)
    assert torch.equal(
        init(inputs(3), context, sample=True)[0], init(inputs(3), context, sample=False)[0]
    )
    assert not init.stochastic
