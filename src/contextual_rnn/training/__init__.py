"""Running the model: the Hydra entry, callbacks, loggers, resume, sweeps and checks."""
