"""Pair discriminator D_xx(x, y) for the augmented adversarial reconstruction loss, eq. (11).

Real pairs are (x, a(x)), fake pairs (x, G(E(x))). Section 5 names three ways to feed a pair:
width-wise concatenation (the paper's default, the most stable), channel-wise concatenation
(the paper's choice for WPAGAN, Appendix C.1) and a siamese network.

Whatever the mode, D_xx(x, y) must depend on x and y *jointly*: the optimal discriminator of
eq. (11) is a function of the density ratio r(y|x) / p(y|x), and a logit of the form
a(x) + b(y) cannot tell (x, a(x)) from (x, a(x')), so it would give the reconstruction game no
signal. :mod:`pagan_lightning.probe` measures this for any pair discriminator.
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
    - ``siamese``: a shared body f on x and on y, then a joint head on the comparison
      features ``[f(x) * f(y), |f(x) - f(y)|]`` followed by one hidden layer (``ch`` units,
      LeakyReLU 0.2). The product and the absolute difference are functions of both images,
      so the logit is not a sum of a score of x and a score of y.
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
        if mode == "siamese":
            self.head = nn.Sequential(
                linear_head(2 * self.body.out_features, ch, use_spectral_norm),
                nn.LeakyReLU(0.2),
                linear_head(ch, 1, use_spectral_norm),
            )
        else:
            self.head = linear_head(self.body.out_features, 1, use_spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.mode == "siamese":
            fx, fy = self.body(torch.cat([x, y])).chunk(2)
            return self.head(torch.cat([fx * fy, (fx - fy).abs()], dim=1)).squeeze(1)
        dim = -1 if self.mode == "width" else 1
        return self.head(self.body(torch.cat([x, y], dim=dim))).squeeze(1)
