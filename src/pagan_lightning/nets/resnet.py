"""ResNet-like encoder and decoder of the VAE baseline (Table 2 of the paper).

Pre-activation residual blocks (BatchNorm, ReLU, 3x3 conv, twice) with a 1x1 projection on the
skip path when the shape changes; the encoder halves the resolution in each block with average
pooling, the decoder doubles it with nearest-neighbour up-sampling. Both follow the DCGAN
networks' geometry: a 4x4 bottleneck and one block per factor of 2 (``up_stages``).
"""

import itertools
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pagan_lightning.nets.encoder import Encoder
from pagan_lightning.nets.generator import up_stages
from pagan_lightning.runtime.specs import Rebuildable


class ResBlock(nn.Module):
    """x + F(x) with F = (BN, ReLU, conv3x3) x 2; ``resample`` halves or doubles H and W."""

    def __init__(self, c_in: int, c_out: int, resample: Literal["down", "up"]) -> None:
        super().__init__()
        self.resample = resample
        self.residual = nn.Sequential(
            nn.BatchNorm2d(c_in),
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, 3, 1, 1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "down":
            return F.avg_pool2d(x, 2)
        return F.interpolate(x, scale_factor=2.0, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":  # up-sample first, convolve at the new resolution
            x = self._resize(x)
            return self.skip(x) + self.residual(x)
        return self._resize(self.skip(x) + self.residual(x))


class ResNetEncoder(Rebuildable, nn.Module):
    """q(z|x) = N(mu(x), sigma(x)^2 I): conv stem, one down-sampling block per factor of 2
    down to 4x4 (doubling the width up to ``ch``), linear head to mu and softplus sigma."""

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        ch: int = 256,
        min_sigma: float = 1e-4,
    ) -> None:
        super().__init__()
        n = up_stages(image_size)
        widths = [max(ch // 2 ** (n - i), 8) for i in range(n + 1)]
        blocks = [ResBlock(a, b, "down") for a, b in itertools.pairwise(widths)]
        self.body = nn.Sequential(
            nn.Conv2d(channels, widths[0], 3, 1, 1), *blocks, nn.BatchNorm2d(ch), nn.ReLU()
        )
        self.head = nn.Linear(ch * 16, 2 * latent_dim)
        self.latent_dim, self.min_sigma = latent_dim, min_sigma

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, s = self.head(self.body(x).flatten(1)).chunk(2, dim=1)
        return mu, F.softplus(s) + self.min_sigma

    rsample = staticmethod(Encoder.rsample)


class ResNetDecoder(Rebuildable, nn.Module):
    """p(x|z) mean: linear z -> ch x 4 x 4, one up-sampling block per factor of 2 (halving
    the width), BN, ReLU, conv3x3 to ``channels`` and tanh (images in [-1, 1])."""

    def __init__(
        self, latent_dim: int = 128, channels: int = 3, image_size: int = 32, ch: int = 256
    ) -> None:
        super().__init__()
        n = up_stages(image_size)
        widths = [max(ch // 2**i, 8) for i in range(n + 1)]
        self.ch = ch
        self.stem = nn.Linear(latent_dim, ch * 16)
        self.body = nn.Sequential(
            *[ResBlock(a, b, "up") for a, b in itertools.pairwise(widths)],
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(),
            nn.Conv2d(widths[-1], channels, 3, 1, 1),
            nn.Tanh(),
        )
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(z).view(z.shape[0], self.ch, 4, 4))
