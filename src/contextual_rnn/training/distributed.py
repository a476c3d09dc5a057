"""What multi-process (DDP) training needs beyond Lightning's defaults.

- The data module shards its own loaders. The project's loaders take a
  ``batch_sampler=BatchSampler(...)``; to shard one, Lightning rebuilds it with a
  ``DistributedSampler`` as ``sampler`` and drops the batch sampler, and with it the
  batch size: every rank would train on batches of one. And for validation, that
  sampler pads the split with repeated samples up to a multiple of the world size,
  which would count those samples twice in the validation metrics. A loader whose
  own ``sampler`` is a ``DistributedSampler`` is left as it is, so ``ShardedData``
  builds those: training shuffled per (seed, epoch) and padded so that every rank
  takes the same number of steps, validation split without repeats (ranks may differ
  by one sample; metric states are summed across ranks, so the result equals a
  single-process run's).
- The process group is destroyed when training ends. Lightning does so only for
  NCCL (at exit); a gloo group left alive can abort the process at interpreter exit.
"""

import torch
from pytorch_lightning import Callback
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, DistributedSampler

from contextual_rnn.core.data import SequenceDataModule


class ShardedData(SequenceDataModule):
    """The project's data module; under DDP each rank loads its own share of each split."""

    def _ranks(self) -> tuple[int, int] | None:
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.world_size == 1:
            return None
        return trainer.world_size, trainer.global_rank

    def _sharded(self, split: str, sampler, batch_size: int, loader: DataLoader) -> DataLoader:
        return DataLoader(
            self.splits[split], batch_size=batch_size, sampler=sampler, collate_fn=loader.collate_fn
        )

    def train_dataloader(self) -> DataLoader:
        loader = super().train_dataloader()
        if (ranks := self._ranks()) is None:
            return loader
        split = self.splits["train"]
        sampler = DistributedSampler(split, *ranks, shuffle=True, seed=self.train_seed)
        return self._sharded("train", sampler, self.batch_size, loader)

    def val_dataloader(self) -> DataLoader:
        loader = super().val_dataloader()
        if (ranks := self._ranks()) is None:
            return loader
        sampler = UnrepeatedDistributedSampler(self.splits["val"], *ranks, shuffle=False)
        return self._sharded("val", sampler, self.val_batch_size, loader)


class DestroyProcessGroup(Callback):
    """Destroys torch.distributed's process group on every rank once fitting is over."""

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
