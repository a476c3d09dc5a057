"""Any initial-state strategy for a plain ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` of one's own.

Strategies build a state of a project cell's structure (batch-first tensors); a torch RNN
takes ``h0`` (or ``(h0, c0)``) as ``(num_layers * directions, batch, hidden)``. This adaptor
describes the torch module's state to the strategy, the way a cell does, and hands its
state back in torch's layout, whichever ``batch_first`` the module uses.
"""

import torch
from torch import nn

from contextual_rnn.core.cells.base import RecurrentCell
from contextual_rnn.core.inits.base import InitialState
from contextual_rnn.core.inits.contextual import ContextualInit


class TorchStateLayout:
    """A torch RNN's state as a strategy reads a cell's: shapes per sample, and a split."""

    state_numel = RecurrentCell.state_numel
    split_state = RecurrentCell.split_state

    def __init__(self, rnn: nn.RNNBase):
        layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
        hidden = (layers, rnn.proj_size or rnn.hidden_size)  # an LSTM's h may be projected
        lstm = isinstance(rnn, nn.LSTM)
        self.state_shapes = (hidden, (layers, rnn.hidden_size)) if lstm else (hidden,)


class TorchRNNInitialState(nn.Module):
    """``h0 = TorchRNNInitialState(rnn, ContextualInit, context_size=3)``, then
    ``rnn(inputs, h0(inputs, context))``; any registered strategy and its options."""

    def __init__(
        self,
        rnn: nn.RNNBase,
        strategy: type[InitialState] = ContextualInit,
        context_size: int = 0,
        **options,
    ):
        super().__init__()
        if not isinstance(rnn, nn.RNNBase):
            raise TypeError(f"expected an nn.LSTM, nn.GRU or nn.RNN, got {type(rnn).__name__}")
        self.batch_first = rnn.batch_first
        self.strategy = strategy(TorchStateLayout(rnn), context_size=context_size, **options)

    def forward(
        self,
        inputs: torch.Tensor,
        context: torch.Tensor | None = None,
        sample: bool | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The state for a batch of ``inputs`` in the module's own layout."""
        batch_major = inputs if self.batch_first else inputs.transpose(0, 1)
        state = self.strategy(batch_major, context, sample)
        batch = batch_major.shape[0]
        state = tuple(s.expand(batch, *s.shape[1:]).transpose(0, 1).contiguous() for s in state)
        return state if len(state) > 1 else state[0]
