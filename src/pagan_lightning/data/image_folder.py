"""Any folder of images (torchvision's ImageFolder layout), with unreadable files named."""

import warnings
from functools import partial
from typing import Any, Literal

from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets
from torchvision.transforms import v2

from pagan_lightning.data.base import ImageDataModule
from pagan_lightning.data.transforms import to_signed
from pagan_lightning.errors import ConfigError, DataNotFoundError, UserError


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
