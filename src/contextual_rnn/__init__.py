"""Contextual recurrent neural networks: h0 = g(context) instead of h0 = 0.

``core`` is the model (cells, initial states, network, tasks, modules), ``training``
runs it (Hydra entry, callbacks, loggers, resume, sweeps), ``analysis`` reads finished
runs (study, aggregate, figures).
"""

from contextual_rnn.core.cells.base import RecurrentCell
from contextual_rnn.core.inits.base import InitialState
from contextual_rnn.core.network import ContextualRNN

__all__ = ["ContextualRNN", "InitialState", "RecurrentCell"]
