"""What trains the model (``contextual_rnn.model``): tasks, data, the Lightning modules.

Nothing here imports from ``contextual_rnn.training`` or ``contextual_rnn.analysis``.
"""
