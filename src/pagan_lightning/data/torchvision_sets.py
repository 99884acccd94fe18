"""The paper's datasets through torchvision: MNIST, Fashion-MNIST, CIFAR10, CelebA."""

import math
import struct
import zlib
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset, Subset
from torchvision import datasets
from torchvision.datasets.utils import extract_archive
from torchvision.transforms import v2

from pagan_lightning.data.base import ImageDataModule
from pagan_lightning.data.transforms import to_signed
from pagan_lightning.runtime.errors import CorruptDataError, DataNotFoundError

# bytes per item of each IDX data type (the third byte of the magic number)
IDX_ITEM_BYTES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def check_idx(path: Path) -> None:
    """Raise :class:`CorruptDataError` naming ``path`` unless it is a whole IDX file: a known
    magic number, and as many bytes as its header's shape says."""
    size = path.stat().st_size
    with path.open("rb") as file:
        magic = file.read(4)
        ndim = magic[3] if len(magic) == 4 else 0
        dims = file.read(4 * ndim)
    if (
        len(magic) < 4
        or magic[:2] != b"\0\0"
        or magic[2] not in IDX_ITEM_BYTES
        or len(dims) < 4 * ndim
    ):
        raise CorruptDataError(f"{path} is not an IDX file (bad header). Fix: delete it and rerun")
    expected = 4 + 4 * ndim + math.prod(struct.unpack(f">{ndim}I", dims)) * IDX_ITEM_BYTES[magic[2]]
    if size != expected:
        raise CorruptDataError(
            f"{path} is truncated or corrupt: {size} bytes, its header says {expected}. Fix: "
            f"delete it and rerun (it is extracted or downloaded again)"
        )


class ImageTensors(Dataset):
    """Images held in memory as one uint8 tensor (N, C, H, W) with their labels (and the
    labels' names, ``classes``), transformed a batch at a time: the DataLoader fetches a batch
    with one call of ``__getitems__``, so the transform runs once per batch, not per image."""

    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        transform: v2.Compose,
        classes: list[str],
    ) -> None:
        self.images, self.targets, self.transform = images, targets, transform
        self.classes = classes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.images[index]), int(self.targets[index])

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        index = torch.as_tensor(indices)
        images, targets = self.transform(self.images[index]), self.targets[index].tolist()
        return list(zip(images, targets, strict=True))


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

    def raw_folder(self) -> Path:
        return self.data_dir / self.dataset_cls.__name__ / "raw"

    def make_dataset(self, train: bool, download: bool) -> Dataset:
        for archive, _ in self.dataset_cls.resources:
            if (self.raw_folder() / Path(archive).stem).exists():
                check_idx(self.raw_folder() / Path(archive).stem)
        raw = self.dataset_cls(self.data_dir, train=train, download=download)
        return ImageTensors(raw.data.unsqueeze(1), raw.targets, self.transform(), raw.classes)

    def hint(self) -> str:
        raw = self.raw_folder().resolve()
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
        raw = self.raw_folder()
        for archive, _ in self.dataset_cls.resources:
            source = self.system_dir / archive if self.system_dir else None
            target = raw / Path(archive).stem
            if not target.exists() and source and source.exists():
                raw.mkdir(parents=True, exist_ok=True)
                try:
                    extract_archive(source, raw)
                except (OSError, EOFError, zlib.error) as err:
                    target.unlink(missing_ok=True)  # no half-extracted file left behind
                    raise CorruptDataError(
                        f"{source} is truncated or corrupt ({err}). Fix: reinstall Debian's "
                        f"dataset-fashion-mnist, or set data.system_dir=null and {super().hint()}"
                    ) from None
        return super().make_dataset(train, download)

    def hint(self) -> str:
        if self.system_dir is None:
            return super().hint()
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
