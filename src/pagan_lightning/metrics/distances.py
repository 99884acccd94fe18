"""Pixel distances between images and their reconstructions (Table 2's RMSE column).

Both metrics see pixels in [0, 1] (images in [-1, 1] mapped by (x + 1) / 2), D = C * H * W
pixels per image, N images:

- ``rmse_pixel`` = sqrt( sum_i ||x_i - y_i||^2 / (N * D) ): the root of the mean squared error
  per pixel, in [0, 1];
- ``l2_image`` = (1 / N) sum_i ||x_i - y_i||_2: the mean Euclidean distance between images,
  in [0, sqrt(D)]. The paper's Table 2 values (RMSE 5.85-8.89 on 32x32x3 CIFAR10) are on this
  scale; ``rmse_pixel = l2_image / sqrt(D)`` when all images are equally far.
"""

import torch

from pagan_lightning.metrics.images import to_unit


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image ||x_i - y_i||^2 over pixels in [0, 1], float64, shape (N,)."""
    return (to_unit(x).double() - to_unit(y).double()).square().flatten(1).sum(dim=1)


def rmse_pixel(squared: torch.Tensor, pixels: int) -> float:
    """Per-pixel RMSE from :func:`squared_distances` of images with ``pixels`` = C * H * W."""
    return float((squared.mean() / pixels).sqrt())


def l2_image(squared: torch.Tensor) -> float:
    """Mean per-image Euclidean distance from :func:`squared_distances`."""
    return float(squared.sqrt().mean())
