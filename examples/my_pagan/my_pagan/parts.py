"""The parts a researcher adds: each subclasses a pagan_lightning base class or protocol."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pagan_lightning import Rebuildable
from pagan_lightning.augment import Augmenter
from pagan_lightning.games import Game
from pagan_lightning.nets import DiscriminatorBody
from pagan_lightning.nets.discriminator import linear_head


class Cutout(Augmenter):
    """a(x): x with one random square of side ``size_fraction`` of the image set to 0 (mid
    grey), placed independently per sample."""

    def __init__(self, size_fraction: float = 0.25) -> None:
        super().__init__()
        self.size_fraction = size_fraction

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        side_h, side_w = (
            max(1, round(self.size_fraction * h)),
            max(1, round(self.size_fraction * w)),
        )
        top = torch.randint(0, h - side_h + 1, (n, 1, 1), device=x.device)
        left = torch.randint(0, w - side_w + 1, (n, 1, 1), device=x.device)
        rows = torch.arange(h, device=x.device)[None, :, None]
        cols = torch.arange(w, device=x.device)[None, None, :]
        inside = (rows >= top) & (rows < top + side_h) & (cols >= left) & (cols < left + side_w)
        return x.masked_fill(inside[:, None], 0.0)


class AdditiveNoise(Augmenter):
    """a(x) = clip(x + std * eps, -1, 1), eps ~ N(0, I) per pixel."""

    def __init__(self, std: float = 0.1) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.std * torch.randn_like(x)).clamp(-1, 1)


class DifferencePairDiscriminator(Rebuildable, nn.Module):
    """D_xx(x, y) on the channels (x, y, x - y): a pair critic that sees the difference."""

    def __init__(self, channels: int, image_size: int, ch: int = 64) -> None:
        super().__init__()
        self.body = DiscriminatorBody(3 * channels, image_size, image_size, ch, True)
        self.head = linear_head(self.body.out_features, 1, True)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.head(self.body(torch.cat([x, y, x - y], dim=1)).flatten(1)).squeeze(1)


class HingeGAN(Rebuildable):
    """The hinge game: the critic minimises E relu(1 - real) + E relu(1 + fake), the
    generator minimises -E fake."""

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


class ReconstructionGame(Game):
    """A fourth game: its critic tells data x from reconstructions G(z_hat), z_hat ~ q(z|x)."""

    def real(self, s, augmenter) -> tuple[Tensor, ...]:
        return (s.x,)

    def fake(self, s) -> tuple[Tensor, ...]:
        return (s.x_rec,)
