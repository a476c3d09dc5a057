"""The model: initial states, cells, the fast-weights kernel and the network."""
