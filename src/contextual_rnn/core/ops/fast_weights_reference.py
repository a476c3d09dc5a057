"""The fast-weights recurrence written as the equations stand (the reference).

    z_t   = W h_{t-1} + (C x_t + b)               (``driven`` holds C x_t + b)
    A_t   = decay * A_{t-1} + eta * u u^T         u = h_{t-1}, or ReLU(z_t) if preliminary
    h^0   = ReLU(z_t);  h^{s+1} = ReLU(LayerNorm(z_t + A_t h^s));  h_t = h^S

A_t is materialised (B x H x H) at every step and read with a row-vector product.
``ops.fast_weights`` computes the same numbers without forming A_t.
"""

import torch
from torch.nn import functional as F


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
    """Outputs (B, T, H) and the final (h, A); h and A may have batch size 1 (shared)."""
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
