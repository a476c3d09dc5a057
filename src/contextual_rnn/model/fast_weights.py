"""The fast-weights recurrence without forming A_t, with a hand-written backward.

Unrolling A_t = decay A_{t-1} + eta u_t u_t^T gives, for any probe vector h,

    A_t h = decay^(t+1) A_0 h + eta * sum_{tau <= t} decay^(t - tau) u_tau (u_tau . h)

so a step needs one product with the initial A_0 and two small ones with the stored
u's (B x T x H); A_T is formed once at the end, and only when asked for. A_0 comes in
three forms, each with its cheapest product: absent (a zero initial state: no term at
all), shared by the batch (batch size 1: one matrix product), or one per sequence
(a batched product). The backward walks the steps in reverse; gradients that sum over
steps (A_0, W) are reduced once at the end, and gradients nobody needs are skipped.

``fast_weights_reference`` at the end of this file is the recurrence as the equations
stand; the kernel is tested against it (outputs, final state, every gradient).
"""

import torch
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

threshold_backward = torch.ops.aten.threshold_backward
layer_norm_out = torch.ops.aten.native_layer_norm.out
layer_norm_backward_out = torch.ops.aten.native_layer_norm_backward.out


def memory_weights(steps: int, decay: float, eta: float, like: torch.Tensor) -> torch.Tensor:
    """(T, T): row t weighs u_tau by eta * decay^(t - tau) for tau <= t, 0 for the future."""
    age = torch.arange(steps, dtype=torch.float64)
    age = age[:, None] - age[None, :]
    weights = torch.where(age >= 0, eta * torch.pow(decay, age.clamp(min=0)), 0.0)
    return weights.to(like)


def fast_weights_sequence(
    driven: torch.Tensor,
    h: torch.Tensor,
    fast: torch.Tensor,
    weight: torch.Tensor,
    norm: torch.nn.LayerNorm,
    decay: float,
    eta: float,
    inner_steps: int,
    preliminary: bool,
    return_state: bool = True,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """Outputs (B, T, H) and the final (h, A) (None unless ``return_state``).

    ``h`` and ``fast`` may have batch size 1 (a state the whole batch shares). A
    ``fast`` of zeros that needs no gradient is treated as absent.
    """
    batch, steps, _ = driven.shape
    h = h.expand(batch, -1)
    weights = memory_weights(steps, decay, eta, driven)
    initial = fast if fast.requires_grad or fast.any() else None
    outputs, stored = FastWeightsSequence.apply(
        driven, h, initial, weight, norm.weight, norm.bias, weights,
        norm.eps, decay, inner_steps, preliminary,
    )  # fmt: skip
    if not return_state:
        return outputs, None
    recent = stored.transpose(1, 2) * weights[-1]
    if initial is None:
        final = torch.bmm(recent, stored)
    else:
        final = torch.baddbmm(initial.expand(batch, -1, -1), recent, stored, beta=decay**steps)
    return outputs, (outputs[:, -1], final)


class FastWeightsSequence(torch.autograd.Function):
    """All T steps with the memory kept as the u's; returns the outputs and the u's
    (the u's feed the final A_T, so gradients may come back through them too).

    Per-step buffers are laid out step-major (K, B, H), K = T * inner_steps, so every
    slice is contiguous: ``native_layer_norm_backward`` needs contiguous mean/rstd.
    """

    @staticmethod
    def forward(
        ctx, driven, h, fast, weight, gain, shift, weights, eps, decay, inner_steps, prelim
    ):
        batch, steps, hidden = driven.shape
        size = steps * inner_steps
        stored = driven.new_zeros(batch, steps, hidden)  # u_tau; rows not yet taken stay 0
        outputs = driven.new_empty(batch, steps, hidden)
        pre = driven.new_empty(steps, batch, hidden)  # z_t
        probes = driven.new_empty(size, batch, hidden)  # h^s, what the memory is asked
        recalls = driven.new_empty(size, batch, 1, steps)  # weights[t] * (U h^s)
        norm_inputs = driven.new_empty(size, batch, hidden)
        means = driven.new_empty(size, batch, 1)
        rstds = driven.new_empty(size, batch, 1)
        stored_t = stored.transpose(1, 2)
        weight_t = weight.t()
        shared = fast is not None and fast.shape[0] == 1
        fast_t = None if fast is None else (fast[0].t() if shared else fast.transpose(1, 2))
        normed = driven.new_empty(batch, hidden)
        initial_h = h
        # Every result is written where it is kept (out=): no copies into the buffers.
        for t in range(steps):
            z = torch.addmm(driven[:, t], h, weight_t, out=pre[t])
            h_s = torch.clamp_min(z, 0, out=probes[t * inner_steps])  # ReLU
            stored[:, t] = h_s if prelim else h
            for s in range(inner_steps):
                k = t * inner_steps + s
                probe = h_s.unsqueeze(1)
                recall = torch.bmm(probe, stored_t, out=recalls[k]).mul_(weights[t])
                a = norm_inputs[k]
                if fast_t is None:
                    torch.baddbmm(z.unsqueeze(1), recall, stored, out=a.unsqueeze(1))
                elif shared:
                    start = torch.addmm(z, h_s, fast_t, alpha=decay ** (t + 1)).unsqueeze(1)
                    torch.baddbmm(start, recall, stored, out=a.unsqueeze(1))
                else:
                    start = torch.baddbmm(z.unsqueeze(1), probe, fast_t, alpha=decay ** (t + 1))
                    torch.baddbmm(start, recall, stored, out=a.unsqueeze(1))
                layer_norm_out(
                    a, (hidden,), gain, shift, eps, out0=normed, out1=means[k], out2=rstds[k]
                )
                last = s == inner_steps - 1
                h_s = torch.clamp_min(normed, 0, out=outputs[:, t] if last else probes[k + 1])
            h = h_s
        ctx.save_for_backward(
            initial_h, fast, weight, gain, shift, weights, stored, outputs, pre,
            probes, recalls, norm_inputs, means, rstds,
        )  # fmt: skip
        ctx.decay, ctx.inner_steps, ctx.prelim = decay, inner_steps, prelim
        ctx.set_materialize_grads(False)  # unused outputs get None, not a tensor of zeros
        return outputs, stored

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_stored):
        initial_h, fast, weight, gain, shift, weights = ctx.saved_tensors[:6]
        stored, outputs, pre, probes, recalls, norm_inputs, means, rstds = ctx.saved_tensors[6:]
        needs = ctx.needs_input_grad
        batch, steps, hidden = outputs.shape
        inner_steps, decay, prelim = ctx.inner_steps, ctx.decay, ctx.prelim
        if grad_outputs is None:
            grad_outputs = torch.zeros_like(outputs)
        shared = fast is not None and fast.shape[0] == 1
        fast_matrix = None if fast is None else (fast[0] if shared else fast)
        # dL/du_tau: from the final state (if it was used) and from every later step
        grad_stored = torch.zeros_like(stored) if grad_stored is None else grad_stored.clone()
        grad_pre = torch.empty_like(pre)
        keep_norm_grads = fast is not None and needs[2]
        # per-step gradients written where they are kept (out=); the gain's and the
        # shift's are summed over the steps once, at the end
        grad_norm_inputs = torch.empty_like(norm_inputs)
        grad_gains = pre.new_empty(len(norm_inputs), hidden)
        grad_shifts = pre.new_empty(len(norm_inputs), hidden)
        mask = (True, needs[4], needs[5])
        grad_h = torch.zeros_like(initial_h)
        stored_t = stored.transpose(1, 2)
        for t in reversed(range(steps)):
            grad = grad_h + grad_outputs[:, t]
            grad_z = None
            scale = decay ** (t + 1)
            for s in reversed(range(inner_steps)):
                k = t * inner_steps + s
                after = outputs[:, t] if s == inner_steps - 1 else probes[k + 1]
                grad = threshold_backward(grad, after, 0)
                grad_a = layer_norm_backward_out(
                    grad, norm_inputs[k], (hidden,), means[k], rstds[k], gain, shift, mask,
                    out0=grad_norm_inputs[k], out1=grad_gains[k], out2=grad_shifts[k],
                )[0]  # fmt: skip
                grad_z = grad_a if grad_z is None else grad_z + grad_a
                query = grad_a.unsqueeze(1)
                recall_grad = torch.bmm(query, stored_t).mul_(weights[t])
                grad_stored.baddbmm_(recalls[k].transpose(1, 2), query)
                grad_stored.baddbmm_(recall_grad.transpose(1, 2), probes[k].unsqueeze(1))
                if fast_matrix is None:
                    grad = torch.bmm(recall_grad, stored).squeeze(1)
                elif shared:
                    grad = torch.bmm(recall_grad, stored).squeeze(1)
                    grad = torch.addmm(grad, grad_a, fast_matrix, alpha=scale)
                else:
                    grad = torch.baddbmm(
                        torch.bmm(query, fast_matrix), recall_grad, stored, beta=scale
                    ).squeeze(1)
            if prelim:  # u_t = h^0 = ReLU(z_t)
                grad = grad + grad_stored[:, t]
            grad_z = torch.add(grad_z, threshold_backward(grad, pre[t], 0), out=grad_pre[t])
            grad_h = grad_z @ weight
            if not prelim:  # u_t = h_{t-1}
                grad_h = grad_h + grad_stored[:, t]
        grad_gain = grad_gains.sum(0) if needs[4] else None
        grad_shift = grad_shifts.sum(0) if needs[5] else None
        grad_weight = None
        if needs[3]:
            previous = torch.cat([initial_h.unsqueeze(0), outputs[:, :-1].transpose(0, 1)])
            grad_weight = grad_pre.reshape(-1, hidden).t() @ previous.reshape(-1, hidden)
        grad_fast = None
        if keep_norm_grads:
            scales = torch.pow(decay, torch.arange(1, steps + 1, dtype=torch.float64))
            grad_norm_inputs *= scales.repeat_interleave(inner_steps).to(grad_pre)[:, None, None]
            if shared:
                grad_fast = (
                    grad_norm_inputs.reshape(-1, hidden).t() @ probes.reshape(-1, hidden)
                ).unsqueeze(0)
            else:
                grad_fast = torch.bmm(grad_norm_inputs.permute(1, 2, 0), probes.transpose(0, 1))
        grad_driven = grad_pre.transpose(0, 1) if needs[0] else None
        grad_initial_h = grad_h if needs[1] else None
        return (
            grad_driven, grad_initial_h, grad_fast, grad_weight, grad_gain, grad_shift,
            *(None,) * 5,
        )  # fmt: skip


def fast_weights_reference(
    driven: torch.Tensor,
    h: torch.Tensor,
    fast: torch.Tensor,
    weight: torch.Tensor,
    norm: torch.nn.LayerNorm,
    decay: float,
    eta: float,
    inner_steps: int,
    preliminary: bool,
    return_state: bool = True,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """The reference: A_t materialised (B x H x H) at every step, read with a row-vector
    product; the same arguments and results as ``fast_weights_sequence``.

        z_t   = W h_{t-1} + (C x_t + b)               (``driven`` holds C x_t + b)
        A_t   = decay * A_{t-1} + eta * u u^T         u = h_{t-1}, or ReLU(z_t) if preliminary
        h^0   = ReLU(z_t);  h^{s+1} = ReLU(LayerNorm(z_t + A_t h^s));  h_t = h^S
    """
    batch = driven.shape[0]
    h, fast = h.expand(batch, -1), fast.expand(batch, -1, -1)
    outputs = []
    for t in range(driven.shape[1]):
        z = F.linear(h, weight) + driven[:, t]
        h_s = F.relu(z)
        u = h_s if preliminary else h
        fast = decay * fast + eta * u.unsqueeze(2) * u.unsqueeze(1)
        for _ in range(inner_steps):
            h_s = F.relu(norm(z + torch.bmm(h_s.unsqueeze(1), fast.transpose(1, 2)).squeeze(1)))
        h = h_s
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h, fast) if return_state else None
