"""Latent discriminator D_z for encoder matching, eq. (6): MLP latent -> 512 -> 256 -> 1."""

import torch
from torch import nn

from pagan_lightning.nets.init import init_normal_
from pagan_lightning.nets.spectral import spectral_norm
from pagan_lightning.runtime.specs import Rebuildable


class LatentDiscriminator(Rebuildable, nn.Module):
    """Spectrally normalised MLP with LeakyReLU 0.2; returns one logit per latent vector."""

    def __init__(
        self,
        latent_dim: int = 128,
        hidden: tuple[int, ...] = (512, 256),
        use_spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        layers, d_in = [], latent_dim
        for d_out in [*hidden, 1]:
            linear = nn.Linear(d_in, d_out)
            init_normal_(linear)
            layers += [spectral_norm(linear) if use_spectral_norm else linear, nn.LeakyReLU(0.2)]
            d_in = d_out
        self.mlp = nn.Sequential(*layers[:-1])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mlp(z).squeeze(1)
