"""One LightningDataModule for every SequenceTask.

Both splits are generated once, in memory. The validation split comes from its
own fixed seed, so every model seed is measured on the same sequences; the
training split from ``train_seed`` (the run's seed by default). Training shuffles
*samples* (in an order fixed by the seed, so a killed run resumes exactly:
``ShuffledSamples`` below) and slices them into batches, indexing the tensors directly
rather than collating one sample at a time.

Shuffled samples that a run killed mid-epoch can resume exactly.

The order is a pure function of the seed, not of the global RNG (the same order every
epoch), and the loader reports how far into the epoch it got. Lightning saves that
position in every checkpoint of a stateful loader and hands it back when it restarts
mid-epoch, so the resumed epoch continues with the very next batch. The loader slices
the order into batches (``batch_size``); under DDP Lightning wraps the sampler in its
``DistributedSampler``, which gives each process its share of the same order (a DDP run
resumes from its last checkpoint, but not exactly mid-epoch).
"""

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from contextual_rnn.errors import PositiveInt, Seed, checked
from contextual_rnn.tasks.base import Batch, SequenceTask


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


TRAINING_KEYS = ("inputs", "targets", "context", "side")  # what a training step reads


class TensorDictDataset(torch.utils.data.Dataset):
    """Samples stored as a dict of tensors; a list of indices gives a whole batch."""

    def __init__(self, tensors: Batch):
        self.tensors = tensors

    def __len__(self) -> int:
        return next(iter(self.tensors.values())).shape[0]

    def __getitems__(self, indices) -> Batch:
        index = torch.as_tensor(indices)
        return {key: value[index] for key, value in self.tensors.items()}


def as_batch(batch: Batch) -> Batch:
    return batch


class SequenceDataModule(pl.LightningDataModule):
    @checked
    def __init__(
        self,
        task: SequenceTask,
        batch_size: PositiveInt = 128,
        val_batch_size: PositiveInt = 1024,
        train_seed: Seed = 0,
        val_seed: Seed = 12345,
    ):
        super().__init__()
        self.task, self.batch_size, self.val_batch_size = task, batch_size, val_batch_size
        self.train_seed, self.val_seed = train_seed, val_seed
        self.raw: dict[str, Batch] = {}
        self.splits: dict[str, TensorDictDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        for split, seed in (("train", self.train_seed), ("val", self.val_seed)):
            self.raw[split] = self.task.generate(split, torch.Generator().manual_seed(seed))
        self.task.fit(self.raw["train"])
        train = self.task.encode(self.raw["train"])
        self.splits = {
            "train": TensorDictDataset({k: v for k, v in train.items() if k in TRAINING_KEYS}),
            "val": TensorDictDataset(self.task.encode(self.raw["val"])),
        }

    def train_dataloader(self) -> DataLoader:
        # The loader's own generator keeps its per-iterator seed draw off the global RNG,
        # which training (sampled initial states) must have to itself to resume exactly.
        return ResumableDataLoader(
            self.splits["train"],
            batch_size=self.batch_size,
            sampler=ShuffledSamples(len(self.splits["train"]), self.train_seed),
            collate_fn=as_batch,
            generator=torch.Generator(),
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.splits["val"],
            batch_size=self.val_batch_size,
            collate_fn=as_batch,
            generator=torch.Generator(),
        )
