"""What trains the model (``contextual_rnn.model``): tasks, data, the Lightning modules.

Nothing here imports from the training modules or ``contextual_rnn.analysis``.
"""
