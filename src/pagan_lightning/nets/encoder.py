"""Gaussian encoder E(x): q(z|x) = N(mu(x), sigma(x)^2 I) (Section 5 of the paper)."""

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from pagan_lightning.nets.discriminator import DiscriminatorBody, linear_head
from pagan_lightning.nets.init import init_kaiming_
from pagan_lightning.runtime.specs import Rebuildable


class Encoder(Rebuildable, nn.Module):
    """The SN-DCGAN discriminator body with a ``2 * latent_dim`` head: mu and a pre-softplus
    scale. ``forward`` returns ``(mu, sigma)``; ``sigma = softplus(s) + min_sigma``.

    ``init="kaiming"`` (default, no spectral norm) starts mu(x) at unit scale;
    ``init="normal"`` keeps the discriminator's N(0, 0.02) weights. ``init_sigma`` sets the
    initial posterior scale through the bias of the scale outputs (``None``: softplus(0))."""

    def __init__(
        self,
        latent_dim: int = 128,
        channels: int = 3,
        image_size: int = 32,
        ch: int = 512,
        use_spectral_norm: bool = False,
        min_sigma: float = 1e-4,
        init: Literal["kaiming", "normal"] = "kaiming",
        init_sigma: float | None = 0.1,
    ) -> None:
        super().__init__()
        if init not in ("kaiming", "normal"):
            raise ValueError(f"unknown init {init!r}; choose 'kaiming' or 'normal'")
        self.latent_dim, self.min_sigma = latent_dim, min_sigma
        self.body = DiscriminatorBody(channels, image_size, image_size, ch, use_spectral_norm)
        self.head = linear_head(self.body.out_features, 2 * latent_dim, use_spectral_norm)
        if init == "kaiming":
            init_kaiming_(self)
        if init_sigma is not None:  # start with a posterior narrow enough for mu(x) to show
            with torch.no_grad():
                self.head.bias[latent_dim:] = math.log(math.expm1(init_sigma - min_sigma))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, s = self.head(self.body(x)).chunk(2, dim=1)
        return mu, F.softplus(s) + self.min_sigma

    @staticmethod
    def rsample(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Reparameterised draw z_hat = mu + sigma * eps, eps ~ N(0, I)."""
        return mu + sigma * torch.randn_like(mu)
