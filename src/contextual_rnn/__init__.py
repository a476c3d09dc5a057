"""Contextual recurrent neural networks: h0 = g(context) instead of h0 = 0.

``core`` is the model (cells, initial states, network, tasks, modules), ``training``
runs it (Hydra entry, callbacks, loggers, resume, sweeps), ``analysis`` reads finished
runs (study, aggregate, figures). The cells and initial states are exported here;
``TorchRNNInitialState`` gives any of the strategies to a plain torch RNN.
"""

from contextual_rnn.core.cells.base import RecurrentCell
from contextual_rnn.core.cells.fast_weights import FastWeights
from contextual_rnn.core.cells.gru import GRU
from contextual_rnn.core.cells.lstm import LSTM
from contextual_rnn.core.cells.rnn import RNN
from contextual_rnn.core.inits.base import InitialState
from contextual_rnn.core.inits.contextual import ContextualInit
from contextual_rnn.core.inits.free import FreeInit
from contextual_rnn.core.inits.torch_rnn import TorchRNNInitialState
from contextual_rnn.core.inits.zero import ZeroInit
from contextual_rnn.core.network import ContextualRNN

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
    "TorchRNNInitialState",
    "ZeroInit",
]
