"""LightningDataModules for the paper's datasets: images as float tensors in [-1, 1], NCHW.

Every module has ``train`` / ``val`` / ``test`` splits: ``val`` is a fixed, seeded hold-out of
the official training set, ``test`` the official test set (reconstructions and metrics use it).
"""

import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytorch_lightning as pl
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler, Subset, random_split
from torchvision import datasets
from torchvision.datasets.utils import extract_archive
from torchvision.transforms import v2

from pagan_lightning.errors import ConfigError, DataNotFoundError, UserError


def to_signed(size: int | None = None, pad: int = 0, crop: int | None = None) -> v2.Compose:
    """PIL / uint8 image -> float tensor in [-1, 1], optionally center-cropped, resized, padded.

    Padding is constant -1 (the background of MNIST-like digits and clothes).
    """
    steps: list[Any] = [v2.ToImage()]
    if crop is not None:
        steps.append(v2.CenterCrop(crop))
    if size is not None:
        steps += [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5], [0.5])]
    if pad:
        steps.append(v2.Pad(pad, fill=-1.0))
    return v2.Compose(steps)


def first_images(dataset: Dataset, n: int) -> torch.Tensor:
    """The first ``n`` images of a dataset of images or (image, label) pairs, as one batch."""
    items = [dataset[i] for i in range(n)]
    return torch.stack([item[0] if isinstance(item, list | tuple) else item for item in items])


class EpochSampler(Sampler[int]):
    """Random order of an epoch drawn from its own generator, seeded by ``seed + epoch``.

    The order does not touch the global RNG and is recomputed, not stored, so a resumed run
    replays the interrupted epoch's order; ``start`` skips the indices already trained on,
    once. Lightning calls :meth:`set_epoch` at the start of every epoch.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size, self.seed, self.epoch, self.start = size, seed, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(
            self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch)
        )
        start, self.start = self.start, 0
        return iter(order[start:].tolist())

    def __len__(self) -> int:
        return self.size


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
        except DataNotFoundError:
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
        sampler = EpochSampler(len(self.train_set), self.seed)
        epoch, done = self._resume_at
        per_epoch = len(self.train_set) // self.batch_size
        epoch, done = (epoch + 1, 0) if done >= per_epoch else (epoch, done)
        sampler.set_epoch(epoch)
        sampler.start = done * self.batch_size
        return self._loader(self.train_set, sampler)

    def state_dict(self) -> dict[str, Any]:
        """Where the training data order stands: epoch and batches done in it."""
        if self.trainer is None:
            return {}
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return {"epoch": self.trainer.current_epoch, "batches_done": done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.trainer is not None and self.trainer.world_size > 1:
            return  # Lightning's DistributedSampler restarts the epoch under DDP
        self._resume_at = (state.get("epoch", 0), state.get("batches_done", 0))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)


class _MNISTLike(ImageDataModule):
    """28x28 grayscale digits / clothes: padded by 2 pixels to 32x32 (background value -1),
    or resized for any other ``image_size``."""

    native_channels = 1
    dataset_cls: ClassVar[type] = datasets.MNIST

    def __init__(self, image_size: int = 32, channels: int = 1, **kwargs: Any) -> None:
        super().__init__(image_size=image_size, channels=channels, **kwargs)

    def transform(self) -> v2.Compose:
        if self.image_size == 32:
            return to_signed(pad=2)
        return to_signed(size=self.image_size)

    def make_dataset(self, train: bool, download: bool) -> Dataset:
        return self.dataset_cls(
            self.data_dir, train=train, transform=self.transform(), download=download
        )

    def hint(self) -> str:
        raw = self.data_dir.resolve() / self.dataset_cls.__name__ / "raw"
        return f"put the four IDX files (*-ubyte) in {raw} (data.data_dir=...)."


class MNISTDataModule(_MNISTLike):
    name = "MNIST"
    dataset_cls = datasets.MNIST


class FashionMNISTDataModule(_MNISTLike):
    """Fashion-MNIST; also found in Debian's ``dataset-fashion-mnist`` package.

    Args:
        system_dir: folder with the gzipped IDX files that Debian installs; when the files are
            missing under ``data_dir`` they are extracted from there (no download needed).
    """

    name = "FashionMNIST"
    dataset_cls = datasets.FashionMNIST

    def __init__(
        self, system_dir: str | None = "/usr/share/datasets/fashion-mnist", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.system_dir = Path(system_dir) if system_dir else None

    def make_dataset(self, train: bool, download: bool) -> Dataset:
        raw = self.data_dir / self.dataset_cls.__name__ / "raw"
        for archive, _ in self.dataset_cls.resources:
            source = self.system_dir / archive if self.system_dir else None
            if not (raw / Path(archive).stem).exists() and source and source.exists():
                raw.mkdir(parents=True, exist_ok=True)
                extract_archive(source, raw)
        return super().make_dataset(train, download)

    def hint(self) -> str:
        return (
            f"install Debian's package dataset-fashion-mnist (files in {self.system_dir}, "
            f"data.system_dir=...), or {super().hint()}"
        )


class CIFAR10DataModule(ImageDataModule):
    name = "CIFAR10"
    native_channels = 3

    def make_dataset(self, train: bool, download: bool) -> Dataset:
        size = None if self.image_size == 32 else self.image_size
        return datasets.CIFAR10(
            self.data_dir, train=train, transform=to_signed(size=size), download=download
        )

    def hint(self) -> str:
        where = self.data_dir.resolve() / "cifar-10-batches-py"
        return f"unpack cifar-10-python.tar.gz so that {where} exists (data.data_dir=...)."


class CelebADataModule(ImageDataModule):
    """CelebA aligned faces, center-cropped to ``crop`` pixels and resized to ``image_size``.

    Reads torchvision's layout (``data_dir/celeba/img_align_celeba`` plus
    ``list_eval_partition.txt``, downloadable), or a plain folder of the aligned images
    ``data_dir/celeba/img_align_celeba/*.jpg`` split by the official file-order partition.
    """

    name = "CelebA"
    native_channels = 3
    TRAIN_END, VALID_END = 162770, 182637  # official partition of the sorted file names

    def __init__(self, image_size: int = 64, crop: int = 140, **kwargs: Any) -> None:
        super().__init__(image_size=image_size, **kwargs)
        self.crop = crop

    def make_dataset(self, train: bool, download: bool) -> Dataset:
        transform = to_signed(size=self.image_size, crop=self.crop)
        root = self.data_dir / "celeba"
        if (root / "list_eval_partition.txt").exists() or download:
            split = "train" if train else "test"
            return datasets.CelebA(
                self.data_dir, split=split, target_type=[], transform=transform, download=download
            )
        folder = root / "img_align_celeba"
        if not folder.is_dir() or not any(folder.iterdir()):
            raise DataNotFoundError(f"CelebA: no images in {folder.resolve()}. {self.hint()}")
        # ImageFolder sorts by file name; the folder itself is its one "class"
        images = datasets.ImageFolder(str(root), transform=transform)
        n = len(images)
        index = range(min(self.TRAIN_END, n)) if train else range(min(self.VALID_END, n), n)
        return Subset(images, list(index))

    def hint(self) -> str:
        root = self.data_dir.resolve() / "celeba"
        return f"put the aligned images in {root / 'img_align_celeba'} (data.data_dir=...)."


class UnreadableImageError(UserError, OSError):
    """An image file that PIL cannot open or decode."""


def load_image(path: str) -> Image.Image:
    """torchvision's image loader, with the file's path in the error of a broken image."""
    try:
        return datasets.folder.default_loader(path)
    except (OSError, SyntaxError, ValueError) as err:
        raise UnreadableImageError(
            f"unreadable image {path}: {err}. Fix: remove or replace the file, or set "
            f"data.on_bad_image=skip to leave out the files that cannot be opened."
        ) from None


class ImageFolderDataModule(ImageDataModule):
    """Any folder of images in torchvision's ImageFolder layout (``root/<class>/<image>``).

    The training set is ``data_dir/train`` when that exists, else ``data_dir``; the test set is
    ``data_dir/test`` when that exists, else the validation hold-out of the training set.
    Images are resized (shorter side) and center-cropped to ``image_size``.

    Args:
        on_bad_image: ``raise`` stops at the first unreadable image with its path; ``skip``
            opens and verifies every file while the folder is indexed and leaves out those PIL
            cannot read, with one warning that gives their count and first paths. (PIL's
            verification does not decode every pixel: a file that still fails to decode
            during training stops it with its path.)
    """

    name = "ImageFolder"

    def __init__(self, on_bad_image: Literal["raise", "skip"] = "raise", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if on_bad_image not in ("raise", "skip"):
            raise ConfigError(f"data.on_bad_image={on_bad_image!r}; choose 'raise' or 'skip'")
        self.on_bad_image = on_bad_image
        self.skipped: dict[str, list[str]] = {}  # folder -> files left out (skip mode)

    @staticmethod
    def _readable(bad: list[str], path: str) -> bool:
        if not datasets.folder.has_file_allowed_extension(path, datasets.folder.IMG_EXTENSIONS):
            return False
        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, SyntaxError, ValueError):
            bad.append(path)
            return False
        return True

    def make_dataset(self, train: bool, download: bool) -> Dataset:
        sub = self.data_dir / ("train" if train else "test")
        root = sub if sub.is_dir() else self.data_dir
        if not root.is_dir():
            raise DataNotFoundError(f"image folder {root.resolve()} does not exist. {self.hint()}")
        steps = [v2.Grayscale(1)] if self.channels == 1 else [v2.RGB()]
        bad: list[str] = []
        dataset = datasets.ImageFolder(
            str(root),
            transform=v2.Compose([*steps, to_signed(size=self.image_size)]),
            loader=load_image,
            is_valid_file=partial(self._readable, bad) if self.on_bad_image == "skip" else None,
        )
        self.skipped[str(root)] = bad
        if bad:
            warnings.warn(
                f"skipped {len(bad)} unreadable image(s) in {root}: {', '.join(bad[:5])}"
                f"{' ...' if len(bad) > 5 else ''}",
                stacklevel=2,
            )
        return dataset

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        if not (self.data_dir / "test").is_dir():
            self.test_set = self.val_set

    def hint(self) -> str:
        return "point data.data_dir at a folder laid out as <root>/<class>/<image files>."
