"""Reconstruction quality on the test set (Table 2): RID (eq. 18) and pixel distances of
x_rec = G(E(x)), and the same of x_aug = a(x), the AUG baseline (content kept, pixels moved)."""

from collections.abc import Callable
from typing import Protocol

import torch
from torch.utils.data import Dataset
from torch_fidelity import FeatureExtractorBase

from pagan_lightning.metrics.config import MetricsConfig
from pagan_lightning.metrics.distances import l2_image, rmse_pixel, squared_distances
from pagan_lightning.metrics.images import to_uint8
from pagan_lightning.metrics.rid import kl_divergence, rid

RID_LAYER = "logits_unbiased"  # p(y|.) of eq. (18), as for the Inception Score


class Reconstructor(Protocol):
    """What the reconstruction metrics need of a model: PAGAN's inference API."""

    device: torch.device

    def reconstruct(
        self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor: ...


def num_test_images(test_set: Dataset, cfg: MetricsConfig) -> int:
    """The first ``cfg.num_test`` (``None``: all) images of ``test_set`` are evaluated."""
    size = len(test_set)  # type: ignore[arg-type]
    return size if cfg.num_test is None else min(cfg.num_test, size)


def reconstruction_rows(
    model: Reconstructor,
    x: torch.Tensor,
    extractor: FeatureExtractorBase,
    channels: int | None,
    augmenter: Callable[[torch.Tensor], torch.Tensor] | None = None,
    noise: torch.Generator | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-image KL(p(y|x) || p(y|y)) and ||x - y||^2 of one batch ``x`` (on ``model.device``)
    for y = x_rec (key ``""``: G(z_hat), z_hat ~ q(z|x) drawn with the generator ``noise``, or
    without one G(mu(x))) and, with an ``augmenter``, y = a(x) (key ``"aug_"``); ``extractor``
    was created with the :data:`RID_LAYER` only."""
    with torch.no_grad():
        (logits_x,) = extractor(to_uint8(x, channels))
        sample = noise is not None
        outputs = {"": model.reconstruct(x, sample=sample, generator=noise)}
        if augmenter is not None:
            outputs["aug_"] = augmenter(x)
        rows = {}
        for prefix, y in outputs.items():
            (logits_y,) = extractor(to_uint8(y, channels))
            rows[prefix] = (kl_divergence(logits_x, logits_y), squared_distances(x, y))
    return rows


def summarize_reconstruction(
    prefix: str, kl: torch.Tensor, squared: torch.Tensor, pixels: int, splits: int
) -> dict[str, float]:
    """``<prefix>rid``, ``<prefix>rid_std``, ``<prefix>rmse_pixel``, ``<prefix>l2_image`` from
    the rows of every test image in the test set's order (see :func:`reconstruction_rows`)."""
    value, std = rid(kl, splits)
    return {
        f"{prefix}rid": value,
        f"{prefix}rid_std": std,
        f"{prefix}rmse_pixel": rmse_pixel(squared, pixels),
        f"{prefix}l2_image": l2_image(squared),
    }


def posterior_noise(
    cfg: MetricsConfig, first: int, device: torch.device | str
) -> torch.Generator | None:
    """The generator of z_hat's noise for the batch of test images starting at index
    ``first`` (``metrics.reconstruction=sample``; None for ``mean``): seeded by ``cfg.seed``
    and the batch, so that any split of the test set over processes draws the same z_hat."""
    if cfg.reconstruction != "sample":
        return None
    return torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + first)
