"""Initial-state strategies (see ``init.base``)."""

from contextual_rnn.init.base import InitialState

__all__ = ["InitialState"]
