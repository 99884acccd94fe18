"""Image transforms shared by the datamodules (torchvision transforms v2)."""

from typing import Any

import torch
from torchvision.transforms import v2


def to_signed(size: int | None = None, pad: int = 0, crop: int | None = None) -> v2.Compose:
    """PIL / uint8 image -> float tensor in [-1, 1], optionally center-cropped, resized, padded.

    Padding is constant -1 (the background of MNIST-like digits and clothes).
    """
    steps: list[Any] = [v2.ToImage()]
    if crop is not None:
        steps.append(v2.CenterCrop(crop))
    if size is not None:
        steps += [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5], [0.5])]
    if pad:
        steps.append(v2.Pad(pad, fill=-1.0))
    return v2.Compose(steps)
