"""Shuffled batches that a run killed mid-epoch can resume exactly.

Each epoch's order is a pure function of (seed, epoch), not of the global RNG, and
the loader reports how far into the epoch it got. Lightning saves that position
in every checkpoint of a stateful loader and hands it back when it restarts
mid-epoch, so the resumed epoch continues with the very next batch. Batches are
slices of the epoch's permutation, handed out as index tensors (one indexing
operation per batch, no Python loop over samples).
"""

import torch
from torch.utils.data import DataLoader, Sampler


class EpochBatches(Sampler[torch.Tensor]):
    """A random permutation per epoch (its own generator, seeded by (seed, epoch)), in batches."""

    def __init__(self, size: int, batch_size: int, seed: int):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.epoch = 0
        self.position = 0  # samples handed out in the current epoch
        self._resume_at: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:  # called by Lightning at every epoch start
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch)
        order = torch.randperm(self.size, generator=generator)
        self.position = 0
        if self._resume_at is not None and self._resume_at[0] == self.epoch:
            self.position = self._resume_at[1]
        self._resume_at = None
        while self.position < self.size:
            start = self.position
            self.position = min(start + self.batch_size, self.size)  # counted before the yield
            yield order[start : self.position]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self._resume_at = (state["epoch"], state["position"])


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position Lightning checkpoints (its batch sampler an EpochBatches).

    The constructor is DataLoader's own, so Lightning can rebuild it (for DDP the
    project builds its own sharded loaders, see training.distributed).
    """

    @property
    def _batches(self) -> EpochBatches | None:
        return self.batch_sampler if isinstance(self.batch_sampler, EpochBatches) else None

    def state_dict(self) -> dict:
        return self._batches.state_dict() if self._batches else {}

    def load_state_dict(self, state: dict) -> None:
        if self._batches and state:
            self._batches.load_state_dict(state)
