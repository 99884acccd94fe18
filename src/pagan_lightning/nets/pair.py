"""Pair discriminator D_xx(x, y) for the augmented adversarial reconstruction loss, eq. (11).

Real pairs are (x, a(x)), fake pairs (x, G(E(x))). Section 5 names three ways to feed a pair:
width-wise concatenation (the paper's default, the most stable), channel-wise concatenation
(the paper's choice for WPAGAN, Appendix C.1) and a siamese network.
"""

from typing import Literal

import torch
from torch import nn

from pagan_lightning.nets.discriminator import DiscriminatorBody, linear_head

PairMode = Literal["width", "channel", "siamese"]
PAIR_MODES = ("width", "channel", "siamese")


class PairDiscriminator(nn.Module):
    """One logit per pair (x, y) of images of shape (channels, image_size, image_size).

    - ``width``: one SN-DCGAN body on ``cat([x, y], dim=-1)`` (H x 2W);
    - ``channel``: one body on ``cat([x, y], dim=1)`` (2C channels);
    - ``siamese``: a shared body on x and on y, a joint linear head on both feature vectors.
    """

    def __init__(
        self,
        mode: PairMode = "width",
        channels: int = 3,
        image_size: int = 32,
        ch: int = 512,
        use_spectral_norm: bool = True,
    ) -> None:
        super().__init__()
        if mode not in PAIR_MODES:
            raise ValueError(f"unknown pair mode {mode!r}; choose one of {PAIR_MODES}")
        self.mode = mode
        in_channels = 2 * channels if mode == "channel" else channels
        width = 2 * image_size if mode == "width" else image_size
        self.body = DiscriminatorBody(in_channels, image_size, width, ch, use_spectral_norm)
        n_features = self.body.out_features * (2 if mode == "siamese" else 1)
        self.head = linear_head(n_features, 1, use_spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.mode == "siamese":
            features = self.body(torch.cat([x, y])).chunk(2)
            return self.head(torch.cat(features, dim=1)).squeeze(1)
        dim = -1 if self.mode == "width" else 1
        return self.head(self.body(torch.cat([x, y], dim=dim))).squeeze(1)
