"""Contextual recurrent neural networks: h0 = g(context) instead of h0 = 0."""

from contextual_rnn.network import ContextualRNN

__all__ = ["ContextualRNN"]
