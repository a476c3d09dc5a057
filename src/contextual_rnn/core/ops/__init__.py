"""Hand-written kernels, each beside the plain reference it is tested against."""
