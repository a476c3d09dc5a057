"""Shuffling that a run killed mid-epoch can resume exactly.

Each epoch's order is a pure function of (seed, epoch), not of the global RNG, and
the loader reports how far into the epoch it got. Lightning saves that position
in every checkpoint of a stateful loader and hands it back when it restarts
mid-epoch, so the resumed epoch continues with the very next sample.
"""

import torch
from torch.utils.data import DataLoader, Sampler


class EpochShuffle(Sampler[int]):
    """A random permutation per epoch, drawn from its own generator seeded by (seed, epoch)."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed = size, seed
        self.epoch = 0
        self.position = 0  # indices handed out in the current epoch
        self._resume_at: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:  # called by Lightning at every epoch start
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        self.position = 0
        if self._resume_at is not None and self._resume_at[0] == self.epoch:
            self.position = self._resume_at[1]
        self._resume_at = None
        while self.position < self.size:
            self.position += 1  # counted before the yield: a checkpoint sees what was handed out
            yield order[self.position - 1]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self._resume_at = (state["epoch"], state["position"])


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position Lightning checkpoints (its sampler must be an EpochShuffle).

    The constructor is DataLoader's own, so Lightning can rebuild it (for DDP it
    swaps in a DistributedSampler, which has no position to save).
    """

    @property
    def _shuffle(self):
        sampler = getattr(self.batch_sampler, "sampler", None)
        return sampler if isinstance(sampler, EpochShuffle) else None

    def state_dict(self) -> dict:
        return self._shuffle.state_dict() if self._shuffle else {}

    def load_state_dict(self, state: dict) -> None:
        if self._shuffle and state:
            self._shuffle.load_state_dict(state)
