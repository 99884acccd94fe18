"""The project's images ([-1, 1] floats) as torch-fidelity inputs (uint8).

torch-fidelity's feature extractors take uint8 NCHW batches; these helpers convert the project's
float images in [-1, 1] and wrap a training set and a generator in torch-fidelity's input types.
"""

from typing import Protocol

import torch
from torch.utils.data import Dataset
from torch_fidelity import GenerativeModelBase

from pagan_lightning.data.base import images_of


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> [0, 1] (clamped)."""
    return ((x + 1) / 2).clamp(0, 1)


def to_uint8(x: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255], grayscale repeated to ``channels`` if given.

    The inverse of the datamodules' ``u / 127.5 - 1``, so a real image comes back bit-exact.
    """
    u8 = (to_unit(x) * 255).round().to(torch.uint8)
    if channels is not None and u8.shape[1] != channels:
        u8 = u8.expand(-1, channels, -1, -1)
    return u8


class UInt8Images(Dataset):
    """The first ``n`` images of a project dataset (items ``x`` or ``(x, label)``) as uint8."""

    def __init__(self, dataset: Dataset, n: int | None = None, channels: int | None = None) -> None:
        size = len(dataset)  # type: ignore[arg-type]
        self.dataset, self.n, self.channels = dataset, size if n is None else min(n, size), channels

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.n:
            raise IndexError(index)
        item = self.dataset[index]
        x = images_of(item)
        return to_uint8(x[None], self.channels)[0]


class Sampler(Protocol):
    """What :class:`GeneratorSamples` needs of a model: PAGAN's inference API."""

    latent_dim: int

    def sample(self, n: int, z: torch.Tensor | None = None) -> torch.Tensor: ...


class GeneratorSamples(GenerativeModelBase):
    """x_prior = G(z) as a torch-fidelity generative model: z ~ N(0, I) from torch-fidelity's
    seeded noise source, images converted to uint8 (``channels`` as the extractor expects)."""

    def __init__(self, model: Sampler, channels: int | None = None) -> None:
        super().__init__()
        self.model, self.channels = model, channels

    @property
    def z_size(self) -> int:
        return self.model.latent_dim

    @property
    def z_type(self) -> str:
        return "normal"

    @property
    def num_classes(self) -> int:
        return 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return to_uint8(self.model.sample(len(z), z), self.channels)
