"""Shuffled samples that a run killed mid-epoch can resume exactly.

The order is a pure function of the seed, not of the global RNG (the same order every
epoch), and the loader reports how far into the epoch it got. Lightning saves that
position in every checkpoint of a stateful loader and hands it back when it restarts
mid-epoch, so the resumed epoch continues with the very next batch. The loader slices
the order into batches (``batch_size``); under DDP Lightning wraps the sampler in its
``DistributedSampler``, which gives each process its share of the same order (a DDP run
resumes from its last checkpoint, but not exactly mid-epoch).
"""

import torch
from torch.utils.data import DataLoader, Sampler


class ShuffledSamples(Sampler[int]):
    """The samples in a random order drawn from ``seed`` by the sampler's own generator."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = size, seed
        self.position = 0  # samples handed out in the current epoch
        self.resume_at: int | None = None

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed))
        order = order.tolist()
        self.position, self.resume_at = self.resume_at or 0, None
        while self.position < self.size:
            self.position += 1  # counted before the yield
            yield order[self.position - 1]

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.resume_at = state["position"]


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position Lightning checkpoints (that of its ShuffledSamples)."""

    def state_dict(self) -> dict:
        return self.sampler.state_dict() if isinstance(self.sampler, ShuffledSamples) else {}

    def load_state_dict(self, state: dict) -> None:
        if isinstance(self.sampler, ShuffledSamples) and state:
            self.sampler.load_state_dict(state)
