"""The state API every cell shares.

A cell's state is a tuple of tensors, each batch-first with a per-sample shape
listed in ``state_shapes`` (for example ``((L, H), (L, H))`` for an LSTM and
``((H,), (H, H))`` for fast weights). Initial-state strategies read those shapes
and never need to know which cell they serve.

A new cell is one subclass (it registers itself, see ``core.registry``) plus one
YAML under ``conf/model/cell/`` naming it in ``_target_``.
"""

from math import prod

import torch
from torch import nn

from contextual_rnn.core.registry import Registered

State = tuple[torch.Tensor, ...]


class RecurrentCell(nn.Module, Registered, register=False):
    """Base class: ``forward(inputs (B, T, I), state) -> (outputs (B, T, H), state)``.

    Subclasses take ``input_size`` first (the model provides it) and their options
    as keyword arguments with defaults. A state tensor's batch dimension is B, or 1
    for a state the whole batch shares (a zero or free initial state); cells
    broadcast it. ``return_state=False`` lets a cell skip forming the final state
    when the caller only needs the outputs (it may then return None).
    """

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

    def forward(
        self, inputs: torch.Tensor, state: State, return_state: bool = True
    ) -> tuple[torch.Tensor, State | None]:
        raise NotImplementedError
