"""Fast-weights RNN (Ba et al. 2016, "Using Fast Weights to Attend to the Recent Past").

Per step, with slow weights W (H x H), C (H x I), b and fast memory A (H x H):

    z_t   = W h_{t-1} + C x_t + b
    A_t   = decay * A_{t-1} + eta * u u^T      u = h_{t-1} ("previous", Ba et al.)
                                               u = ReLU(z_t) ("preliminary", authors' code)
    h^0   = ReLU(z_t)
    h^s+1 = ReLU(LayerNorm(z_t + A_t h^s))    for s < inner_steps
    h_t   = h^S

LayerNorm normalises each sample over its hidden units. The state is (h, A).

Two implementations give the same numbers. ``loop`` writes the equations as they
stand and materialises A_t (B x H x H) at every step. ``fast`` never builds A_t:
unrolling the update gives

    A_t h = decay^(t+1) A_0 h + eta * sum_{tau <= t} decay^(t - tau) u_tau (u_tau . h)

so each step needs one product with the initial A_0 and two small ones with the
stored u's; A_T is formed once at the end. It runs as one autograd Function with a
hand-written backward, which batches the gradient of A_0 and W into single products
instead of one outer product per step (see docs/performance.md).
"""

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from contextual_rnn.cells.base import RecurrentCell, State
from contextual_rnn.errors import positive_int, require

UPDATES = ("previous", "preliminary")
WEIGHT_INITS = ("identity", "uniform")
IMPLEMENTATIONS = ("fast", "loop")


class FastWeights(RecurrentCell):
    """The cell of the equations above; state (h, A).

    ``implementation`` says how they run: ``fast`` (the default, memory kept as the
    u's) or ``loop`` (A_t materialised, the reference). Both give the same numbers.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 50,
        decay: float = 0.95,
        eta: float = 0.5,
        inner_steps: int = 1,
        update: str = "previous",
        weight_init: str = "identity",
        implementation: str = "fast",
    ):
        super().__init__()
        require(0.0 <= decay <= 1.0, "decay", decay, "a number in [0, 1]")
        require(update in UPDATES, "update", update, " or ".join(UPDATES))
        require(weight_init in WEIGHT_INITS, "weight_init", weight_init, " or ".join(WEIGHT_INITS))
        require(
            implementation in IMPLEMENTATIONS,
            "implementation",
            implementation,
            " or ".join(IMPLEMENTATIONS),
        )
        self.input_size = input_size
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.inner_steps = positive_int("inner_steps", inner_steps)
        self.decay, self.eta, self.update = float(decay), float(eta), update
        self.implementation = implementation
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
        if self.implementation == "loop":
            return self.loop_forward(driven, h, fast)
        steps = driven.shape[1]
        weights = memory_weights(steps, self.decay, self.eta, driven)
        outputs, stored = FastWeightsSequence.apply(
            driven,
            h,
            fast,
            self.recurrent.weight,
            self.norm.weight,
            self.norm.bias,
            weights,
            self.norm.eps,
            self.decay,
            self.inner_steps,
            self.update == "preliminary",
        )
        recent = stored.transpose(1, 2) * weights[-1]
        final = torch.baddbmm(fast, recent, stored, beta=self.decay**steps)
        return outputs, (outputs[:, -1], final)

    def loop_forward(
        self, driven: torch.Tensor, h: torch.Tensor, fast: torch.Tensor
    ) -> tuple[torch.Tensor, State]:
        """The equations step by step, A_t materialised (the reference for ``fast``)."""
        outputs = []
        for t in range(driven.shape[1]):
            z = self.recurrent(h) + driven[:, t]
            h_s = F.relu(z)
            u = h if self.update == "previous" else h_s
            fast = self.decay * fast + self.eta * u.unsqueeze(2) * u.unsqueeze(1)
            for _ in range(self.inner_steps):
                h_s = F.relu(self.norm(z + torch.bmm(fast, h_s.unsqueeze(2)).squeeze(2)))
            h = h_s
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, fast)


def memory_weights(steps: int, decay: float, eta: float, like: torch.Tensor) -> torch.Tensor:
    """(T, T): row t weighs u_tau by eta * decay^(t - tau) for tau <= t, 0 for the future."""
    age = torch.arange(steps, dtype=torch.float64)
    age = age[:, None] - age[None, :]
    weights = torch.where(age >= 0, eta * torch.pow(decay, age.clamp(min=0)), 0.0)
    return weights.to(like)


class FastWeightsSequence(torch.autograd.Function):
    """All T steps of the recurrence with the memory kept as the u's, not as A_t.

    Returns the hidden states (B, T, H) and the u's (B, T, H); rows of the u's for
    steps not yet taken are zero and weigh zero. The backward walks the steps in
    reverse; gradients that sum over steps (A_0, W) are reduced once at the end.
    """

    @staticmethod
    def forward(
        ctx, driven, h, fast, weight, gain, shift, weights, eps, decay, inner_steps, prelim
    ):
        batch, steps, hidden = driven.shape
        size = steps * inner_steps  # one entry per (t, s), k = t * inner_steps + s
        stored = driven.new_zeros(batch, steps, hidden)
        outputs = driven.new_empty(batch, steps, hidden)
        pre = driven.new_empty(batch, steps, hidden)  # z_t
        probes = driven.new_empty(size, batch, hidden)  # h^s, what the memory is asked
        recalls = driven.new_empty(size, batch, 1, steps)  # weights[t] * U h^s
        norm_inputs = driven.new_empty(size, batch, hidden)
        means = driven.new_empty(size, batch, 1)
        rstds = driven.new_empty(size, batch, 1)
        initial_h, fast_t, stored_t = h, fast.transpose(1, 2), stored.transpose(1, 2)
        for t in range(steps):
            z = torch.addmm(driven[:, t], h, weight.t())
            pre[:, t] = z
            h_s = torch.relu(z)
            stored[:, t] = h_s if prelim else h
            for s in range(inner_steps):
                k = t * inner_steps + s
                probes[k] = h_s
                probe = h_s.unsqueeze(1)
                recall = torch.bmm(probe, stored_t).mul_(weights[t])
                recalls[k] = recall
                direct = torch.baddbmm(z.unsqueeze(1), probe, fast_t, alpha=decay ** (t + 1))
                a = torch.baddbmm(direct, recall, stored).squeeze(1)
                normed, mean, rstd = torch.native_layer_norm(a, (hidden,), gain, shift, eps)
                norm_inputs[k], means[k], rstds[k] = a, mean, rstd
                h_s = torch.relu(normed)
            h = h_s
            outputs[:, t] = h
        ctx.save_for_backward(
            initial_h, fast, weight, gain, shift, weights, stored, outputs, pre,
            probes, recalls, norm_inputs, means, rstds,
        )  # fmt: skip
        ctx.decay, ctx.inner_steps, ctx.prelim = decay, inner_steps, prelim
        return outputs, stored

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_stored):
        initial_h, fast, weight, gain, shift, weights = ctx.saved_tensors[:6]
        stored, outputs, pre, probes, recalls, norm_inputs, means, rstds = ctx.saved_tensors[6:]
        _, steps, hidden = outputs.shape
        inner_steps, decay, prelim = ctx.inner_steps, ctx.decay, ctx.prelim
        grad_stored = grad_stored.clone()  # accumulates dL/du_tau from every later step
        grad_pre = torch.empty_like(pre)
        grad_norm_inputs = torch.empty_like(norm_inputs)  # dL/da, for A_0's gradient
        grad_gain, grad_shift = torch.zeros_like(gain), torch.zeros_like(shift)
        grad_h = torch.zeros_like(initial_h)
        stored_t = stored.transpose(1, 2)
        for t in reversed(range(steps)):
            grad = grad_h + grad_outputs[:, t]
            grad_z = None
            for s in reversed(range(inner_steps)):
                k = t * inner_steps + s
                after = outputs[:, t] if s == inner_steps - 1 else probes[k + 1]
                grad = torch.ops.aten.threshold_backward(grad, after, 0)
                grad_a, grad_gain_k, grad_shift_k = torch.ops.aten.native_layer_norm_backward(
                    grad, norm_inputs[k], (hidden,), means[k], rstds[k], gain, shift,
                    (True, True, True),
                )  # fmt: skip
                grad_gain += grad_gain_k
                grad_shift += grad_shift_k
                grad_z = grad_a if grad_z is None else grad_z + grad_a
                grad_norm_inputs[k] = grad_a
                query = grad_a.unsqueeze(1)
                recall_grad = torch.bmm(query, stored_t).mul_(weights[t])
                grad_stored.baddbmm_(recalls[k].transpose(1, 2), query)
                grad_stored.baddbmm_(recall_grad.transpose(1, 2), probes[k].unsqueeze(1))
                scale = decay ** (t + 1)
                grad = torch.baddbmm(torch.bmm(query, fast), recall_grad, stored, beta=scale)
                grad = grad.squeeze(1)
            if prelim:  # u_t = h^0 = ReLU(z_t)
                grad = grad + grad_stored[:, t]
            grad_z = grad_z + torch.ops.aten.threshold_backward(grad, pre[:, t], 0)
            grad_pre[:, t] = grad_z
            grad_h = grad_z @ weight
            if not prelim:  # u_t = h_{t-1}
                grad_h = grad_h + grad_stored[:, t]
        previous = torch.cat([initial_h.unsqueeze(1), outputs[:, :-1]], dim=1)
        grad_weight = grad_pre.reshape(-1, hidden).t() @ previous.reshape(-1, hidden)
        scales = decay ** torch.arange(1, steps + 1, dtype=torch.float64).repeat_interleave(
            inner_steps
        )
        grad_norm_inputs *= scales.to(grad_norm_inputs)[:, None, None]
        grad_fast = torch.bmm(grad_norm_inputs.permute(1, 2, 0), probes.transpose(0, 1))
        return grad_pre, grad_h, grad_fast, grad_weight, grad_gain, grad_shift, *(None,) * 5
