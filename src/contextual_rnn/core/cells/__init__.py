"""Recurrent cells sharing one state API (see ``cells.base``)."""

from contextual_rnn.core.cells.base import RecurrentCell, State

__all__ = ["RecurrentCell", "State"]
