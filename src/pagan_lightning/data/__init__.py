"""LightningDataModules for the paper's datasets (configs: ``conf/data``), one job a module:

- :mod:`~pagan_lightning.data.base`: :class:`ImageDataModule`, splits and loaders;
- :mod:`~pagan_lightning.data.sampling`: :class:`EpochSampler`, the resumable order;
- :mod:`~pagan_lightning.data.transforms`: :func:`to_signed`;
- :mod:`~pagan_lightning.data.torchvision_sets`: MNIST, Fashion-MNIST, CIFAR10, CelebA;
- :mod:`~pagan_lightning.data.image_folder`: any folder of images.
"""

from pagan_lightning.data.base import ImageDataModule, first_images, images_of
from pagan_lightning.data.image_folder import (
    ImageFolderDataModule,
    UnreadableImageError,
    load_image,
)
from pagan_lightning.data.sampling import EpochSampler
from pagan_lightning.data.torchvision_sets import (
    CelebADataModule,
    CIFAR10DataModule,
    FashionMNISTDataModule,
    MNISTDataModule,
)
from pagan_lightning.data.transforms import to_signed

__all__ = [
    "CIFAR10DataModule",
    "CelebADataModule",
    "EpochSampler",
    "FashionMNISTDataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "UnreadableImageError",
    "first_images",
    "images_of",
    "load_image",
    "to_signed",
]
