"""Contextual recurrent neural networks: h0 = g(context) instead of h0 = 0.

``model`` is the network (cells, initial states, the fast-weights kernel), ``tasks`` and
``module`` what trains it, ``train`` with ``config``, ``callbacks``, ``loggers``, ``resume``
and ``sweeps`` runs it, ``analysis`` reads finished runs (study, aggregate, figures). The cells
and initial states are exported here; an initial state also serves a torch nn.LSTM, nn.GRU
or nn.RNN of one's own. The project's ``LSTM``, ``GRU`` and ``RNN`` are torch's fused
modules, batch-first always (they take no ``batch_first``), with torch's state layout.
"""

from contextual_rnn.model.cells import GRU, LSTM, RNN, FastWeights, RecurrentCell, state_shapes
from contextual_rnn.model.initial_states import ContextualInit, FreeInit, InitialState, ZeroInit
from contextual_rnn.model.network import ContextualRNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "ContextualInit",
    "ContextualRNN",
    "FastWeights",
    "FreeInit",
    "InitialState",
    "RecurrentCell",
    "ZeroInit",
    "state_shapes",
]
