"""Initial-state strategies serve a plain torch RNN in torch's own state layout."""

import pytest
import torch
from torch import nn

from contextual_rnn import ContextualInit, FreeInit, TorchRNNInitialState, ZeroInit


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
def test_contextual_state_has_torch_layout_and_is_g_of_the_context(rnn, batch_first):
    torch.manual_seed(0)
    rnn = rnn(batch_first)
    h0 = TorchRNNInitialState(rnn, ContextualInit, context_size=3, distribution="deterministic")
    inputs = torch.randn(6, 7, 4) if batch_first else torch.randn(7, 6, 4)
    context = torch.randn(6, 3)
    state = h0(inputs, context)
    states = state if isinstance(state, tuple) else (state,)
    layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
    expected = [(layers, 6, rnn.proj_size or 8)] + ([(layers, 6, 8)] if len(states) == 2 else [])
    assert [tuple(s.shape) for s in states] == expected
    # the first sequence's h0 is g's output for its context, cut layer by layer
    flat = h0.strategy.net(context)[0]
    width = expected[0][2]
    assert torch.equal(states[0][:, 0].reshape(-1), flat[: layers * width])
    outputs, _ = rnn(inputs, state)  # torch accepts it as it is
    outputs.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in h0.parameters())


def test_shared_strategies_expand_to_the_batch_and_sample_per_sequence():
    gru = nn.GRU(4, 8, num_layers=2)
    inputs = torch.randn(7, 5, 4)  # time-major: 5 sequences
    zero = TorchRNNInitialState(gru, ZeroInit)(inputs)
    assert zero.shape == (2, 5, 8) and not zero.any()
    free = TorchRNNInitialState(gru, FreeInit, noise_std=0.5)
    free.train()
    noisy = free(inputs)
    assert noisy.shape == (2, 5, 8) and not torch.equal(noisy[:, 0], noisy[:, 1])
    free.eval()
    assert not free(inputs).any()  # the mean: the trained h0, zeros at start


def test_anything_but_a_torch_rnn_is_refused():
    with pytest.raises(TypeError, match="nn.LSTM, nn.GRU or nn.RNN"):
        TorchRNNInitialState(nn.Linear(3, 3))
