"""The fast fast-weights implementation gives the loop's outputs, final state and gradients."""

import pytest
import torch

from contextual_rnn.cells.fast_weights import FastWeights
from contextual_rnn.errors import ConfigError


def twin_cells(dtype, **options):
    """A loop cell and a fast cell with the same (non-trivial) parameters."""
    torch.manual_seed(0)
    loop = FastWeights(3, 5, weight_init="uniform", implementation="loop", **options).to(dtype)
    with torch.no_grad():
        loop.norm.weight.uniform_(0.5, 1.5)
        loop.norm.bias.uniform_(-0.1, 0.1)
    fast = FastWeights(3, 5, implementation="fast", **options).to(dtype)
    fast.load_state_dict(loop.state_dict())
    return loop, fast


def run(cell, inputs, h0, fast0):
    """Outputs, final (h, A) and the gradients of a loss that reads all three."""
    leaves = [t.clone().requires_grad_() for t in (inputs, h0, fast0)]
    outputs, (h, fast) = cell(leaves[0], tuple(leaves[1:]))
    weights = torch.Generator().manual_seed(1)
    loss = sum(
        (value * torch.randn(value.shape, generator=weights, dtype=value.dtype)).sum()
        for value in (outputs, h, fast)
    )
    grads = torch.autograd.grad(loss, [*leaves, *cell.parameters()])
    return [outputs, h, fast, *grads]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("update", ["previous", "preliminary"])
@pytest.mark.parametrize("inner_steps", [1, 2])
def test_fast_equals_loop(dtype, update, inner_steps):
    loop, fast = twin_cells(dtype, update=update, inner_steps=inner_steps)
    inputs = torch.randn(4, 6, 3, dtype=dtype)
    h0, fast0 = torch.randn(4, 5, dtype=dtype), 0.3 * torch.randn(4, 5, 5, dtype=dtype)
    for got, want in zip(run(fast, inputs, h0, fast0), run(loop, inputs, h0, fast0), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_shared_initial_memory():
    """A free init hands every sample the same A_0 (a stride-0 expand): its gradient sums."""
    loop, fast = twin_cells(torch.float64)
    shared = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    inputs, h0 = torch.randn(3, 4, 3, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64)
    grads = []
    for cell in (loop, fast):
        outputs, _ = cell(inputs, (h0, shared.expand(3, 5, 5)))
        grads.append(torch.autograd.grad(outputs.sum(), shared)[0])
    torch.testing.assert_close(grads[1], grads[0])


def test_fast_runs_without_autograd_and_one_step_at_a_time():
    """Validation runs under no_grad; generation feeds the final state back one step at a time."""
    loop, fast = twin_cells(torch.float64)
    inputs = torch.randn(2, 3, 3, dtype=torch.float64)
    state = (torch.randn(2, 5, dtype=torch.float64), torch.randn(2, 5, 5, dtype=torch.float64))
    with torch.no_grad():
        whole, _ = loop(inputs, state)
        parts = []
        for t in range(3):
            out, state = fast(inputs[:, t : t + 1], state)
            parts.append(out)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)


def test_unknown_implementation_is_a_config_error():
    with pytest.raises(ConfigError) as error:
        FastWeights(3, 4, implementation="compiled")
    assert error.value.key == "implementation"
