"""The model and its data: cells, initial states, the network, tasks, Lightning modules.

Nothing here imports from the training modules or ``contextual_rnn.analysis``.
"""
