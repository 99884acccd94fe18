"""The datamodule every dataset shares: seeded train / val split, loaders, resumable order.

Images are float tensors in [-1, 1], NCHW. ``val`` is a fixed, seeded hold-out of the official
training set, ``test`` the official test set (reconstructions and metrics use it).
"""

from pathlib import Path
from typing import Any, ClassVar

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, random_split

from pagan_lightning.data.sampling import EpochSampler
from pagan_lightning.runtime.compat import batches_done_in_epoch
from pagan_lightning.runtime.errors import ConfigError, DataNotFoundError, UserError


def images_of(batch: Any) -> torch.Tensor:
    """The images of a batch (or item) that is either images alone or (images, labels)."""
    return batch[0] if isinstance(batch, list | tuple) else batch


def first_images(dataset: Dataset, n: int) -> torch.Tensor:
    """The first ``n`` images of a dataset of images or (image, label) pairs, as one batch."""
    items = [dataset[i] for i in range(n)]
    return torch.stack([images_of(item) for item in items])


class ImageDataModule(pl.LightningDataModule):
    """Shared splits and loaders; subclasses say how to build the train and test datasets.

    Args:
        data_dir: root folder of the dataset (torchvision's layout below it).
        image_size: side of the square images the networks see.
        channels: image channels (1 for grayscale datasets, 3 for colour).
        batch_size: images per training batch.
        num_workers: DataLoader worker processes.
        val_size: images held out of the training set for validation.
        download: let torchvision download missing files (needs internet).
        seed: seed of the train / val split.
    """

    name: ClassVar[str] = "dataset"
    native_channels: ClassVar[int | None] = None

    def __init__(
        self,
        data_dir: str = "data",
        image_size: int = 32,
        channels: int = 3,
        batch_size: int = 64,
        num_workers: int = 0,
        val_size: int = 5000,
        download: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if self.native_channels is not None and channels != self.native_channels:
            raise ValueError(f"{self.name} has {self.native_channels} channel(s), got {channels}")
        self.data_dir, self.image_size, self.channels = Path(data_dir), image_size, channels
        self.batch_size, self.num_workers, self.val_size = batch_size, num_workers, val_size
        self.download, self.seed = download, seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self._resume_at: tuple[int, int] = (0, 0)  # (epoch, batches done), from a checkpoint

    def training_images_tag(self, n: int | None = None) -> str:
        """A name for the first ``n`` (``None``: all) images of the training split, unique per
        dataset, split (images used, split seed, hold-out size), image size and channels (the
        cache name of their features)."""
        count = len(self.train_set) if n is None else min(n, len(self.train_set))
        return (
            f"{self.name}-train{count}-seed{self.seed}-val{self.val_size}-"
            f"{self.image_size}px{self.channels}ch"
        )

    # subclasses --------------------------------------------------------------------------
    def make_dataset(self, train: bool, download: bool) -> Dataset:
        raise NotImplementedError

    def hint(self) -> str:
        """Where the files are expected; appended to the not-found message."""
        return f"Put the files under {self.data_dir.resolve()} (data.data_dir=...)."

    # Lightning hooks ---------------------------------------------------------------------
    def _load(self, train: bool, download: bool) -> Dataset:
        try:
            return self.make_dataset(train, download)
        except UserError:
            raise
        except (RuntimeError, OSError) as err:  # torchvision: not found / download failed
            how = "data.download=true failed (no internet?)" if download else "data.download=false"
            raise DataNotFoundError(
                f"{self.name} is not in {self.data_dir.resolve()} and {how}: {err}\n"
                f"Fix: run once with internet access and data.download=true, or "
                f"{self.hint()}"
            ) from None

    def prepare_data(self) -> None:
        for train in (True, False):
            self._load(train, self.download)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        full = self._load(True, download=False)
        if not 0 <= self.val_size < len(full):
            raise ConfigError(f"data.val_size={self.val_size} must be in [0, {len(full)})")
        split = torch.Generator().manual_seed(self.seed)
        sizes = [len(full) - self.val_size, self.val_size]
        self.train_set, self.val_set = random_split(full, sizes, generator=split)
        self.test_set = self._load(False, download=False)
        processes = self.trainer.world_size if self.trainer is not None else 1
        if len(self.train_set) // processes < self.batch_size:  # drop_last: no batch at all
            share = f" ({processes} processes: {len(self.train_set) // processes} each)"
            raise ConfigError(
                f"data.batch_size={self.batch_size} is larger than the training set of "
                f"{len(self.train_set)} images ({len(full)} minus data.val_size="
                f"{self.val_size}){share if processes > 1 else ''}: no full batch to train "
                f"on. Lower data.batch_size or data.val_size"
            )

    def _loader(self, dataset: Dataset | None, sampler: Sampler | None = None) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=sampler is not None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            generator=torch.Generator().manual_seed(self.seed),  # not the global RNG
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled by :class:`EpochSampler`; a resumed run starts where its checkpoint was."""
        ranks = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        sampler = EpochSampler(len(self.train_set), self.seed, *ranks)
        epoch, done = self._resume_at
        per_epoch = len(sampler) // self.batch_size
        epoch, done = (epoch + 1, 0) if done >= per_epoch else (epoch, done)
        sampler.set_epoch(epoch)
        sampler.start = done * self.batch_size
        return self._loader(self.train_set, sampler)

    def state_dict(self) -> dict[str, Any]:
        """Where the training data order stands: epoch and batches done in it."""
        if self.trainer is None:
            return {}
        done = batches_done_in_epoch(self.trainer)
        return {"epoch": self.trainer.current_epoch, "batches_done": done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume_at = (state.get("epoch", 0), state.get("batches_done", 0))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)
