"""Any folder of images (torchvision's ImageFolder layout), with unreadable files named."""

import os
import stat
import warnings
from functools import partial
from typing import Any, Literal

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import v2

from pagan_lightning.data.base import ImageDataModule
from pagan_lightning.data.transforms import to_signed
from pagan_lightning.runtime.errors import ConfigError, DataNotFoundError, UserError


class UnreadableImageError(UserError, OSError):
    """An image file that PIL cannot open or decode."""


BROKEN = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # 16- and 32-bit integer grayscale


def load_image(path: str) -> Image.Image:
    """An RGB image of ``path``: 16-bit grayscale scaled to 8 bits (PIL's own conversion
    clips it to white), palette, CMYK and RGBA converted by PIL; the file's path in the error
    of a broken or oversized image."""
    try:
        with Image.open(path) as image:
            if image.mode in WIDE_MODES:
                pixels = np.asarray(image, dtype=np.float64)
                top = 65535.0 if pixels.max(initial=0) <= 65535 else float(pixels.max())
                gray = Image.fromarray(np.round(pixels / top * 255).astype(np.uint8), "L")
                return gray.convert("RGB")
            return image.convert("RGB")
    except BROKEN as err:
        raise UnreadableImageError(
            f"unreadable image {path}: {str(err).rstrip('.')}. Fix: remove or replace the file, "
            f"or set data.on_bad_image=skip to leave out the files that cannot be opened."
        ) from None


class ImageFolderDataModule(ImageDataModule):
    """Any folder of images in torchvision's ImageFolder layout (``root/<class>/<image>``).

    The training set is ``data_dir/train`` when that exists, else ``data_dir``; the test set is
    ``data_dir/test`` when that exists, else the validation hold-out of the training set.
    Images are resized (shorter side) and center-cropped to ``image_size``.

    Args:
        on_bad_image: ``raise`` stops at the first unreadable image (or non-regular file)
            with its path; ``skip`` opens and verifies every file while the folder is indexed
            and leaves out those PIL cannot read, with one warning that gives their count and
            first paths. (PIL's verification does not decode every pixel: a file that still
            fails to decode during training stops it with its path.) Non-regular files
            (FIFOs, devices, sockets) are never opened, and a file reached through several
            paths (symlinks, loops included) is indexed once.
    """

    name = "ImageFolder"

    def __init__(self, on_bad_image: Literal["raise", "skip"] = "raise", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if on_bad_image not in ("raise", "skip"):
            raise ConfigError(f"data.on_bad_image={on_bad_image!r}; choose 'raise' or 'skip'")
        self.on_bad_image = on_bad_image
        self.skipped: dict[str, list[str]] = {}  # folder -> files left out (skip mode)

    def _readable(self, bad: list[str], path: str) -> bool:
        """Whether to index ``path``: an image extension and a regular file (a FIFO, device
        or socket is never opened); in ``skip`` mode also one that PIL opens and verifies."""
        if not datasets.folder.has_file_allowed_extension(path, datasets.folder.IMG_EXTENSIONS):
            return False
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError:  # a dangling link
            regular = False
        if not regular:
            if self.on_bad_image == "raise":
                raise UnreadableImageError(
                    f"{path} is not a regular file (a FIFO, device, socket or broken link). "
                    f"Fix: remove it, or set data.on_bad_image=skip"
                )
            bad.append(path)
            return False
        if self.on_bad_image == "raise":
            return True
        try:
            with Image.open(path) as image:
                image.verify()
        except BROKEN:
            bad.append(path)
            return False
        return True

    @staticmethod
    def _once_each(dataset: datasets.ImageFolder) -> int:
        """Keep one sample per file: a symlink loop or a linked folder lists files again
        under other paths (and so on both sides of a split). Returns how many went."""
        seen: set[str] = set()
        kept = []
        for path, target in dataset.samples:
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                kept.append((path, target))
        dropped = len(dataset.samples) - len(kept)
        dataset.samples = dataset.imgs = kept
        dataset.targets = [target for _, target in kept]
        return dropped

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
            is_valid_file=partial(self._readable, bad),
        )
        if dropped := self._once_each(dataset):
            warnings.warn(
                f"{root}: {dropped} path(s) led to files already indexed (symlinks) and were "
                f"left out: every file is indexed once",
                stacklevel=2,
            )
        first = {}  # each skipped file once, too: its first path
        for path in bad:
            first.setdefault(os.path.realpath(path), path)
        bad = list(first.values())
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
