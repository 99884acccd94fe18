"""Augmenters a(x): the stochastic map r(y|x) that defines the *real* pairs (x, a(x)) of eq. (11).

An augmenter is an ``nn.Module`` that maps a batch of images (N, C, H, W) in [-1, 1] to a batch
of the same shape, dtype and device, in the same range, with an independent random draw per
sample, drawn from the global generators (so that a fixed seed fixes it and checkpoints resume
it). :func:`check_augmenter` tests these rules; ``pagan-train`` applies it before training. To
add a new augmentation, subclass :class:`Augmenter`, implement ``forward`` and select it from
config::

    # conf/model/augmenter/my_aug.yaml (in your package's config folder)
    # @package model.augmenter
    _target_: my_package.MyAugmenter
"""

import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pagan_lightning.runtime.errors import UserError
from pagan_lightning.runtime.specs import Rebuildable


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


class AugmenterError(UserError):
    """An augmenter breaks a rule of the contract (:func:`check_augmenter`)."""


def check_augmenter(augmenter: nn.Module, x: torch.Tensor, seed: int = 0) -> None:
    """Check that ``augmenter`` keeps the contract of a(x) on the batch ``x`` (images in
    [-1, 1], at least 2 samples); the global random generators are left as they were.

    Rules, in order: a(x) is a tensor of x's shape, dtype and device; its values are finite
    and in [-1, 1]; the same seed gives the same a(x); and, if a(x) is random at all, the
    samples of one batch get their own draws (copies of one image do not all come back
    alike).

    Raises:
        AugmenterError: naming the augmenter and the first rule it breaks.
    """
    python, numpy = random.getstate(), np.random.get_state()
    devices = [] if x.device.type == "cpu" else [x.device]
    try:
        with torch.random.fork_rng(devices=devices, device_type=x.device.type):
            broken = _broken_rule(augmenter, x, seed)
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
    if broken:
        raise AugmenterError(f"augmenter {type(augmenter).__qualname__} {broken}")


def _broken_rule(augmenter: nn.Module, x: torch.Tensor, seed: int) -> str:
    """The first rule of :func:`check_augmenter` that ``augmenter`` breaks, or ``""``."""

    def draw(images: torch.Tensor, s: int) -> torch.Tensor:
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
        with torch.no_grad():
            return augmenter(images)

    try:
        y = draw(x, seed)
    except Exception as err:
        return f"fails on a batch of shape {tuple(x.shape)}: {type(err).__name__}: {err}"
    if not isinstance(y, torch.Tensor):
        return f"returns {type(y).__qualname__}, not a tensor"
    if (y.shape, y.dtype, y.device) != (x.shape, x.dtype, x.device):
        return (
            f"changes the batch: shape, dtype, device {(tuple(y.shape), y.dtype, y.device)} "
            f"for {(tuple(x.shape), x.dtype, x.device)}"
        )
    if not torch.isfinite(y).all() or y.abs().max() > 1 + 1e-6:
        return f"leaves the image range [-1, 1] (values {y.min():.3g} to {y.max():.3g})"
    if not torch.equal(y, draw(x, seed)):
        return (
            "is not reproducible: the same seed gives another a(x) (draw from torch's, "
            "NumPy's or Python's global generator)"
        )
    copies = x[:1].expand_as(x).clone()
    first, second = draw(copies, seed + 1), draw(copies, seed + 2)
    one_draw = all(torch.equal(first[0], first[i]) for i in range(1, len(first)))
    if one_draw and not torch.equal(first, second):
        return "draws once per batch, not once per sample (copies of one image come back alike)"
    return ""
