"""Pair discriminator D_xx(x, y) for the augmented adversarial reconstruction loss, eq. (11).

Real pairs are (x, a(x)), fake pairs (x, G(E(x))). Section 5 names three ways to feed a pair:
width-wise concatenation (the paper's default, the most stable), channel-wise concatenation
(the paper's choice for WPAGAN, Appendix C.1) and a siamese network.

Whatever the mode, D_xx(x, y) must depend on x and y *jointly*: the optimal discriminator of
the game (eq. 12, Proposition 1) is a function of r(y|x) / p_{theta,phi}(y|x), and a logit of
the form a(x) + b(y) cannot tell (x, a(x)) from (x, a(x')), so it would give G and E no signal
about x (only about the marginal of G(E(x))). :func:`pair_match` measures this for a given
discriminator, :mod:`pagan_lightning.reporting.probe` for a freshly trained one.
"""

from collections.abc import Callable
from typing import Literal, Protocol

import torch
from torch import nn

from pagan_lightning.nets.discriminator import DiscriminatorBody, linear_head
from pagan_lightning.runtime.specs import Rebuildable

PairMode = Literal["width", "channel", "siamese"]


class PairCritic(Protocol):
    """The contract of a pair discriminator D_xx: a batch of pairs (x, y), each (N, C, H, W),
    to one raw output per pair, shape (N,) or (N, 1), that must depend on x and y jointly
    (check a new one with :func:`pagan_lightning.reporting.probe.train_pair_probe`)."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...


PAIR_MODES = ("width", "channel", "siamese")


class PairDiscriminator(Rebuildable, nn.Module):
    """One logit per pair (x, y) of images of shape (channels, image_size, image_size).

    - ``width``: one SN-DCGAN body on ``cat([x, y], dim=-1)`` (H x 2W);
    - ``channel``: one body on ``cat([x, y], dim=1)`` (2C channels);
    - ``siamese``: a shared body f on x and on y, then a joint head with one hidden layer
      (``ch`` units, LeakyReLU 0.2) on the comparison features ``[f(x) * f(y), |f(x) - f(y)|]``:
      functions of both images, so the logit is not a sum of a score of x and a score of y
      (one linear layer on ``[f(x), f(y)]`` would be, and cannot see the pair). The head is
      symmetric, D(x, y) = D(y, x): both pairs of the game share x, so it loses nothing. On
      16x16 synthetic images at ch=16 a hidden layer on ``[f(x), f(y)]`` stayed below the
      test's bar (0.79) where this head passes; on real Fashion-MNIST at ch=64 the two were
      level (README, "Does D_xx see the pair?").
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


def mismatched(x: torch.Tensor) -> torch.Tensor:
    """x' for every x: the batch shifted by one, so that each image is paired with another."""
    return x.roll(1, dims=0)


@torch.no_grad()
def pair_match(
    disc: PairCritic,
    x: torch.Tensor,
    augment: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """P(D_xx(x, a(x)) > D_xx(x, a(x'))) over the batch ``x`` (ties count one half): how often
    ``disc`` ranks the real pair above a mismatched one. Threshold-free, so it also reads a
    discriminator trained in the game (against (x, G(E(x))), not against mismatched pairs):
    0.5 means it judges y alone and the pair game gives G and E no signal about x. Call it on
    a discriminator in eval mode (spectral norm's power iteration runs in train mode)."""
    real, other = disc(x, augment(x)), disc(x, augment(mismatched(x)))
    return ((real > other).float() + 0.5 * (real == other).float()).mean()
