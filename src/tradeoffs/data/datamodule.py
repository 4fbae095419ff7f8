"""LightningDataModule yielding {x, y} batches: clean images x from a source, observations y = degradation(x).

Training pair i of epoch e is a pure function of (seed, e, i); validation pair i of (seed, i). Validation pairs are
therefore identical across epochs, runs and resumes, and training is reproducible with any number of workers.
"""

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from tradeoffs.core.errors import ConfigError
from tradeoffs.core.runs import progress
from tradeoffs.core.seeding import EpochSampler, ShardSampler, generator_for
from tradeoffs.data.degradations import Degradation
from tradeoffs.data.sources import ImageSource

_TRAIN_STREAM, _VAL_STREAM, _TEST_STREAM = 0x7A, 0x7B, 0x7C


class DegradedDraws(Dataset):
    """Item (epoch, i) -> {x, y}, seeded by (seed, epoch, i)."""

    def __init__(self, source: ImageSource, degradation: Degradation, length: int, seed: int) -> None:
        self.source, self.degradation, self.length, self.seed = source, degradation, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Tensor]:
        epoch, index = key
        generator = generator_for(self.seed, _TRAIN_STREAM, epoch, index)
        x = self.source.sample(generator)
        return {"x": x, "y": self.degradation(x[None], generator)[0]}


class PairList(Dataset):
    def __init__(self, x: Tensor, y: Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"x": self.x[index], "y": self.y[index]}


class RestorationDataModule(pl.LightningDataModule):
    def __init__(
        self,
        source: ImageSource,
        degradation: Degradation,
        batch_size: int = 16,
        samples_per_epoch: int = 1024,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if batch_size < 1 or samples_per_epoch < batch_size:
            raise ConfigError(
                f"data.batch_size={batch_size} must be >= 1 and <= data.samples_per_epoch={samples_per_epoch}"
            )
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"data.num_workers={num_workers} must be an integer >= 0 (0: load in the main process)")
        self.source, self.degradation = source, degradation
        self.batch_size, self.samples_per_epoch = batch_size, samples_per_epoch
        self.val_batch_size, self.num_workers, self.seed = val_batch_size or batch_size, num_workers, seed
        self.val_pairs: PairList | None = None
        self.test_pairs: PairList | None = None

    def setup(self, stage: str | None = None) -> None:
        """Validation pairs for every stage (they also size the metrics); test pairs for `test`."""
        if self.val_pairs is None:
            self.val_pairs = self.degraded(self.source.validation_images(), _VAL_STREAM)
            for key, height, width in self.image_sizes()[1:]:  # training crops sized apart: checked before fit
                self.degradation.check_image_size(height, width, key)
        if stage == "test" and self.test_pairs is None:
            test = self.source.test_images()
            if test is None:
                progress.warning(
                    "%s has no test set: split=test measures its validation set", type(self.source).__name__
                )
            self.test_pairs = self.val_pairs if test is None else self.degraded(test, _TEST_STREAM)

    def image_sizes(self) -> list[tuple[str, int, int]]:
        """(key, height, width) of the clean images, by the setting that sizes them: the validation images (after
        setup), then the training crops where the source sizes them apart."""
        sizes = [(self.source.validation_size_key, *self.pairs("val").x.shape[-2:])]
        crop = self.source.training_crop()
        return sizes if crop is None else [*sizes, (crop[0], crop[1], crop[1])]

    def degraded(self, x: Tensor, stream: int) -> PairList:
        """Fixed pairs: observation i degraded with the generator of (seed, stream, i)."""
        self.degradation.check_image_size(*x.shape[-2:], self.source.validation_size_key)
        self.degradation.lifted_channels(x.shape[1])  # e.g. colorization of grey images: one line naming the keys
        y = torch.cat([self.degradation(x[i : i + 1], generator_for(self.seed, stream, i)) for i in range(len(x))])
        return PairList(x, y)

    def pairs(self, split: str) -> PairList:
        """The fixed pairs of `val` or `test` (after setup)."""
        pairs = self.val_pairs if split == "val" else self.test_pairs
        if pairs is None:
            raise RuntimeError(f"RestorationDataModule.setup must run before its {split} pairs are read")
        return pairs

    def _loader(self, dataset: Dataset, batch_size: int, **kwargs: object) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            **kwargs,
        )

    def processes(self) -> dict[str, int]:
        """This process's place among the trainer's (DDP) processes: {num_replicas, rank}."""
        trainer = self.trainer
        return {"num_replicas": trainer.world_size, "rank": trainer.global_rank} if trainer else {}

    def train_dataloader(self) -> DataLoader:
        """samples_per_epoch seeded draws per epoch in all, shared out between the DDP processes."""
        dataset = DegradedDraws(self.source, self.degradation, self.samples_per_epoch, self.seed)
        sampler = EpochSampler(self.samples_per_epoch, self.seed, **self.processes())
        return self._loader(dataset, self.batch_size, sampler=sampler, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(
            self.val_pairs, self.val_batch_size, sampler=ShardSampler(len(self.val_pairs), **self.processes())
        )

    def test_dataloader(self) -> DataLoader:
        """The source's test set (e.g. data.source.test_root), else the validation set; fixed degradations."""
        return self._loader(
            self.test_pairs, self.val_batch_size, sampler=ShardSampler(len(self.test_pairs), **self.processes())
        )
