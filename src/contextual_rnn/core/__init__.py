"""The model and its data: cells, initial states, the network, tasks, Lightning modules.

Nothing here imports from ``contextual_rnn.training`` or ``contextual_rnn.analysis``.
"""
