"""DCGAN generator G(z) (chainer-gan-lib ``DCGANGenerator``, the paper's source, Section 5)."""

import math

import torch
from torch import nn

from pagan_lightning.nets.init import init_normal_
from pagan_lightning.runtime.specs import Rebuildable


def up_stages(image_size: int, bottom_width: int = 4) -> int:
    """Number of x2 up-sampling stages from ``bottom_width`` to ``image_size``.

    Raises ``ValueError`` for a size that is not ``bottom_width * 2**k`` with ``k >= 1``.
    """
    ratio = image_size / bottom_width
    k = round(math.log2(ratio)) if ratio >= 1 else 0
    if k < 1 or bottom_width * 2**k != image_size:
        raise ValueError(
            f"image_size={image_size} is not supported by the DCGAN generator: it must be "
            f"{bottom_width} * 2**k with k >= 1 (e.g. 16, 32, 64, 128)"
        )
    return k


class Generator(Rebuildable, nn.Module):
    """Maps z ~ N(0, I) to an image in [-1, 1].

    Linear z -> ch*4*4 with BatchNorm over the flat features and ReLU, then one ConvTranspose
    (k4 s2 p1) per factor of 2 halving the channels, each with BatchNorm + ReLU, and a final
    k3 s1 p1 convolution to ``channels`` with tanh. 32x32 has 3 up-stages, 64x64 has 4.
    """

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        ch: int = 512,
        bottom_width: int = 4,
    ) -> None:
        super().__init__()
        n_up = up_stages(image_size, bottom_width)
        if ch % 2**n_up:
            raise ValueError(f"ch={ch} must be divisible by 2**{n_up} for image_size={image_size}")
        self.latent_dim, self.ch, self.bottom_width = latent_dim, ch, bottom_width
        self.stem = nn.Sequential(
            nn.Linear(latent_dim, ch * bottom_width**2),
            nn.BatchNorm1d(ch * bottom_width**2),
            nn.ReLU(),
        )
        ups = []
        for i in range(n_up):
            c_in, c_out = ch // 2**i, ch // 2 ** (i + 1)
            ups += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.body = nn.Sequential(*ups, nn.Conv2d(ch // 2**n_up, channels, 3, 1, 1), nn.Tanh())
        init_normal_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(z.shape[0], self.ch, self.bottom_width, self.bottom_width)
        return self.body(h)
