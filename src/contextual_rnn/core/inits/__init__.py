"""Initial-state strategies (see ``inits.base``)."""

from contextual_rnn.core.inits.base import InitialState

__all__ = ["InitialState"]
