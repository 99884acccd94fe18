"""SN-DCGAN discriminator (chainer-gan-lib ``DCGANDiscriminator`` with spectral norm).

The convolutional body is shared by the image discriminator D_x, the encoder E and the pair
discriminator D_xx. It accepts any H x W that its three stride-2 stages divide, so a
width-concatenated pair of 32x32 images (32x64) works as well as a single image.
"""

import torch
from torch import nn

from pagan_lightning.nets.init import init_normal_
from pagan_lightning.nets.spectral import spectral_norm
from pagan_lightning.runtime.specs import Rebuildable

DOWNSAMPLE = 8  # three k4 s2 p1 convolutions


def _sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Initialise ``module`` N(0, 0.02), then wrap it in spectral norm when ``enabled``."""
    init_normal_(module)
    return spectral_norm(module) if enabled else module


class DiscriminatorBody(Rebuildable, nn.Module):
    """Conv k3 s1 (C->ch/8), k4 s2 (->ch/4), k3 s1, k4 s2 (->ch/2), k3 s1, k4 s2 (->ch), k3 s1;
    LeakyReLU 0.2 after each, no normalisation; returns the flattened features."""

    def __init__(
        self,
        channels: int = 3,
        height: int = 32,
        width: int = 32,
        ch: int = 512,
        use_spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        if height % DOWNSAMPLE or width % DOWNSAMPLE or height <= 0 or width <= 0:
            raise ValueError(
                f"input {height}x{width} is not supported by the SN-DCGAN body: height and "
                f"width must be positive multiples of {DOWNSAMPLE}"
            )
        if ch % 8:
            raise ValueError(f"ch={ch} must be divisible by 8")
        widths = [ch // 8, ch // 4, ch // 4, ch // 2, ch // 2, ch, ch]
        kernels = [3, 4, 3, 4, 3, 4, 3]
        layers, c_in = [], channels
        for c_out, k in zip(widths, kernels, strict=True):
            stride = 2 if k == 4 else 1
            conv = nn.Conv2d(c_in, c_out, k, stride, 1)
            layers += [_sn(conv, use_spectral_norm), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.out_features = ch * (height // DOWNSAMPLE) * (width // DOWNSAMPLE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).flatten(1)


def linear_head(in_features: int, out_features: int, use_spectral_norm: bool) -> nn.Module:
    return _sn(nn.Linear(in_features, out_features), use_spectral_norm)


class Discriminator(Rebuildable, nn.Module):
    """D_x: image -> one logit (the probability D(x) = sigmoid(logit)), eq. (5)."""

    def __init__(
        self,
        channels: int = 3,
        image_size: int = 32,
        ch: int = 512,
        use_spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        self.body = DiscriminatorBody(channels, image_size, image_size, ch, use_spectral_norm)
        self.head = linear_head(self.body.out_features, 1, use_spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)
