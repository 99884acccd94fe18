"""Augmenters a(x): the stochastic map r(y|x) that defines the *real* pairs (x, a(x)) of eq. (11).

An augmenter is an ``nn.Module`` that maps a batch of images (N, C, H, W) in [-1, 1] to a batch
of the same shape on the same device, with an independent random draw per sample. To add a new
augmentation, subclass :class:`Augmenter`, implement ``forward`` and select it from config::

    # conf/model/augmenter/my_aug.yaml
    # @package model.augmenter
    _target_: my_package.MyAugmenter
"""

import torch
import torch.nn.functional as F
from torch import nn

from pagan_lightning.specs import Rebuildable


class Augmenter(Rebuildable, nn.Module):
    """Base class of every augmenter: ``forward(x) -> a(x)``, batched, on ``x``'s device."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Identity(Augmenter):
    """a(x) = x: r(y|x) is a delta, which turns the pair game into ALICE's (PAGAN-NOAUG)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ReflectPadCrop(Augmenter):
    """The paper's augmentation (Section 5): reflect-pad by ``pad_fraction`` of the image size
    on every side, then crop a random window of the original size, independently per sample.

    Equivalently, a random shift of up to ``pad`` pixels in each direction with mirrored
    borders. ``pad_fraction=0`` is the identity.
    """

    def __init__(self, pad_fraction: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= pad_fraction < 1.0:
            raise ValueError(f"pad_fraction must be in [0, 1), got {pad_fraction}")
        self.pad_fraction = pad_fraction

    def pad_size(self, x: torch.Tensor) -> tuple[int, int]:
        """Padding (rows, columns) for this image size: ``round(pad_fraction * size)``."""
        return round(self.pad_fraction * x.shape[-2]), round(self.pad_fraction * x.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (pad_h, pad_w), n = self.pad_size(x), x.shape[0]
        dy = torch.randint(-pad_h, pad_h + 1, (n,), device=x.device)
        dx = torch.randint(-pad_w, pad_w + 1, (n,), device=x.device)
        return self.shift(x, dy, dx)

    def shift(self, x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
        """Crop each sample ``i`` of the padded batch at offset (pad_h + dy[i], pad_w + dx[i])."""
        pad_h, pad_w = self.pad_size(x)
        if pad_h == 0 and pad_w == 0:
            return x
        n, _, h, w = x.shape
        padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
        rows = (pad_h + dy)[:, None] + torch.arange(h, device=x.device)  # (N, H)
        cols = (pad_w + dx)[:, None] + torch.arange(w, device=x.device)  # (N, W)
        batch = torch.arange(n, device=x.device)[:, None, None]
        # advanced indexing gives (N, H, W, C); move channels back to dim 1
        out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
        return out.permute(0, 3, 1, 2).contiguous(memory_format=torch.contiguous_format)
