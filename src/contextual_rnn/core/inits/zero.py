"""h0 = 0: the usual constant initial state (the paper's eq. 2a)."""

from contextual_rnn.core.inits.base import InitialState


class ZeroInit(InitialState):
    def forward(self, inputs, context=None, sample=None):
        return self.split(inputs.new_zeros(1, self.state_numel))  # shared by the batch
