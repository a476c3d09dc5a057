"""Running the model: the Hydra entry, callbacks, loggers, resume, sweeps and checks."""

from contextual_rnn.training import sweeps  # noqa: F401 - registers ${run_name:}
