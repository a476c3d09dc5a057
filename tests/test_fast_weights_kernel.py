"""The hand-written fast-weights kernel gives the reference's outputs, final state and gradients."""

import pytest
import torch

from contextual_rnn.model.cells import FastWeights


def twin_cells(dtype, **options):
    """A reference cell and a fast cell with the same (non-trivial) parameters."""
    torch.manual_seed(0)
    reference = FastWeights(3, 5, weight_init="uniform", implementation="reference", **options)
    with torch.no_grad():
        reference.norm.weight.uniform_(0.5, 1.5)
        reference.norm.bias.uniform_(-0.1, 0.1)
    fast = FastWeights(3, 5, implementation="fast", **options)
    fast.load_state_dict(reference.state_dict())
    return reference.to(dtype), fast.to(dtype)


def as_state(h0, fast0, batch):
    """(h, A) in the cell's layout, (1, B, H) and (1, B, H, H); a state of batch 1 is
    shared by the batch (expanded, as zero and free initial states give it)."""
    return h0.unsqueeze(0).expand(1, batch, -1), fast0.unsqueeze(0).expand(1, batch, -1, -1)


def run(cell, inputs, h0, fast0, read_state=True):
    """Outputs, final (h, A) and the gradients of a loss that reads them, for every input."""
    leaves = [t.clone().requires_grad_(t.dtype.is_floating_point) for t in (inputs, h0, fast0)]
    state = as_state(*leaves[1:], len(inputs))
    outputs, state = cell(leaves[0], state, return_state=read_state)
    weights = torch.Generator().manual_seed(1)
    values = [outputs, *state] if read_state else [outputs]
    loss = sum((v * torch.randn(v.shape, generator=weights, dtype=v.dtype)).sum() for v in values)
    grads = torch.autograd.grad(loss, [*leaves, *cell.parameters()])
    return [*values, *grads]


# The initial memory A_0 as each initial state gives it: one per sequence (contextual),
# one for the whole batch (free: batch size 1), zeros (zero init).
MEMORIES = {
    "per_sequence": lambda dtype: 0.3 * torch.randn(4, 5, 5, dtype=dtype),
    "shared": lambda dtype: 0.3 * torch.randn(1, 5, 5, dtype=dtype),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("update", ["previous", "preliminary"])
@pytest.mark.parametrize("inner_steps", [1, 2])
@pytest.mark.parametrize("memory", MEMORIES)
def test_fast_equals_reference(dtype, update, inner_steps, memory):
    reference, fast = twin_cells(dtype, update=update, inner_steps=inner_steps)
    torch.manual_seed(5)
    inputs = torch.randn(4, 6, 3, dtype=dtype)
    h0, fast0 = torch.randn(4, 5, dtype=dtype), MEMORIES[memory](dtype)
    got, want = run(fast, inputs, h0, fast0), run(reference, inputs, h0, fast0)
    # float32 sums over steps and sequences in another order: a few ulps of the largest term
    tolerance = 1e-4 if dtype == torch.float32 else 1e-10
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("read_state", [True, False])
def test_a_zero_memory_is_skipped_with_the_same_numbers(read_state):
    """A zero A_0 that needs no gradient (zero init) takes the path without A_0 at all."""
    reference, fast = twin_cells(torch.float64)
    inputs, h0 = torch.randn(3, 4, 3, dtype=torch.float64), torch.zeros(1, 5, dtype=torch.float64)
    state = as_state(h0, torch.zeros(1, 5, 5, dtype=torch.float64), 3)
    outputs, state = fast(inputs, state, return_state=read_state)
    want, want_state = reference(inputs, as_state(h0, torch.zeros(3, 5, 5).double(), 3))
    torch.testing.assert_close(outputs, want)
    if read_state:
        torch.testing.assert_close(state[1], want_state[1])
    else:
        assert state is None


def test_a_shared_memory_gets_the_batch_summed_gradient():
    reference, fast = twin_cells(torch.float64)
    shared = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    inputs, h0 = torch.randn(3, 4, 3, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64)
    grads = []
    copies = shared.expand(3, 5, 5).contiguous()  # one per sequence: the reference's path
    for cell, memory in ((reference, copies), (fast, shared.unsqueeze(0))):
        outputs, _ = cell(inputs, as_state(h0, memory, 3))
        grads.append(torch.autograd.grad(outputs.sum(), shared)[0])
    torch.testing.assert_close(grads[1], grads[0])


def test_fast_runs_without_autograd_and_one_step_at_a_time():
    """Validation runs under no_grad; generation feeds the final state back one step at a time."""
    reference, fast = twin_cells(torch.float64)
    inputs = torch.randn(2, 3, 3, dtype=torch.float64)
    state = (torch.randn(1, 2, 5).double(), torch.randn(1, 2, 5, 5).double())
    with torch.no_grad():
        whole, _ = reference(inputs, state)
        parts = []
        for t in range(3):
            out, state = fast(inputs[:, t : t + 1], state)
            parts.append(out)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)
