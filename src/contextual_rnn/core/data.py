"""One LightningDataModule for every SequenceTask.

Both splits are generated once, in memory. The validation split comes from its
own fixed seed, so every model seed is measured on the same sequences; the
training split from ``train_seed`` (the run's seed by default). Training shuffles
*samples* (in an order fixed by the seed, so a killed run resumes exactly:
core/sampling.py) and slices them into batches, indexing the tensors directly
rather than collating one sample at a time.
"""

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from contextual_rnn.core.errors import PositiveInt, Seed, checked
from contextual_rnn.core.sampling import ResumableDataLoader, ShuffledSamples
from contextual_rnn.core.tasks.base import Batch, SequenceTask

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
