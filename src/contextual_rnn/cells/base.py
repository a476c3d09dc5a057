"""The state API every cell shares.

A cell's state is a tuple of tensors, each batch-first with a per-sample shape
listed in ``state_shapes`` (for example ``((L, H), (L, H))`` for an LSTM and
``((H,), (H, H))`` for fast weights). Initial-state strategies read those shapes
and never need to know which cell they serve.
"""

from math import prod

import torch
from torch import nn

State = tuple[torch.Tensor, ...]


class RecurrentCell(nn.Module):
    """Base class: ``forward(inputs (B, T, I), state) -> (outputs (B, T, H), state)``."""

    input_size: int
    hidden_size: int
    state_shapes: tuple[tuple[int, ...], ...]

    @property
    def output_size(self) -> int:
        return self.hidden_size

    @property
    def state_numel(self) -> int:
        """Number of scalars in one sample's state (what a context network must produce)."""
        return sum(prod(shape) for shape in self.state_shapes)

    def split_state(self, flat: torch.Tensor) -> State:
        """Cut a (B, state_numel) tensor into this cell's state tuple."""
        sizes = [prod(shape) for shape in self.state_shapes]
        pieces = flat.split(sizes, dim=-1)
        return tuple(
            p.reshape(flat.shape[0], *shape)
            for p, shape in zip(pieces, self.state_shapes, strict=True)
        )

    def forward(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        raise NotImplementedError
