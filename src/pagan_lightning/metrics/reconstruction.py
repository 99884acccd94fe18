"""Reconstruction quality on the test set (Table 2): RID (eq. 18) and pixel distances of
x_rec = G(E(x)), and the same of x_aug = a(x), the AUG baseline (content kept, pixels moved)."""

from collections.abc import Callable
from typing import Protocol

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from pagan_lightning.data.base import images_of
from pagan_lightning.metrics.config import MetricsConfig
from pagan_lightning.metrics.distances import l2_image, rmse_pixel, squared_distances
from pagan_lightning.metrics.features import Features
from pagan_lightning.metrics.images import to_uint8
from pagan_lightning.metrics.rid import kl_divergence, rid


class Reconstructor(Protocol):
    """What the reconstruction metrics need of a model: PAGAN's inference API."""

    device: torch.device

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor: ...


def reconstruction_metrics(
    model: Reconstructor,
    test_set: Dataset,
    features: Features,
    cfg: MetricsConfig,
    augmenter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float | int]:
    """RID and pixel distances of x_rec = ``model.reconstruct(x)`` and of x_aug = a(x) for
    the given ``augmenter`` (the AUG baseline; left out when ``None``).

    Uses the first ``cfg.num_test`` test images in order (the splits of the RID ± are
    sequential), batches of ``cfg.batch_size`` on ``model.device``, and the extractor's
    ``logits_unbiased`` for p(y|.). Returns ``num_test`` and, for x_rec, ``rid``, ``rid_std``,
    ``rmse_pixel``, ``l2_image`` (see :mod:`~pagan_lightning.metrics.rid` and
    :mod:`~pagan_lightning.metrics.distances`), the same for x_aug prefixed ``aug_``.
    """
    n = len(test_set) if cfg.num_test is None else min(cfg.num_test, len(test_set))  # type: ignore[arg-type]
    loader = DataLoader(Subset(test_set, range(n)), batch_size=cfg.batch_size, shuffle=False)
    extractor = features.create(["logits_unbiased"], model.device)
    prefixes = ("", "aug_") if augmenter is not None else ("",)
    kl: dict[str, list[torch.Tensor]] = {prefix: [] for prefix in prefixes}
    squared: dict[str, list[torch.Tensor]] = {prefix: [] for prefix in prefixes}
    pixels = 0
    for batch in loader:
        x = images_of(batch).to(model.device)
        pixels = x[0].numel()
        with torch.no_grad():
            (logits_x,) = extractor(to_uint8(x, features.channels))
            outputs = {"": model.reconstruct(x)}
            if augmenter is not None:
                outputs["aug_"] = augmenter(x)
            for prefix, y in outputs.items():
                (logits_y,) = extractor(to_uint8(y, features.channels))
                kl[prefix].append(kl_divergence(logits_x, logits_y).cpu())
                squared[prefix].append(squared_distances(x, y).cpu())
    results: dict[str, float | int] = {"num_test": n}
    for prefix in kl:
        value, std = rid(torch.cat(kl[prefix]), cfg.splits)
        distances = torch.cat(squared[prefix])
        results |= {
            f"{prefix}rid": value,
            f"{prefix}rid_std": std,
            f"{prefix}rmse_pixel": rmse_pixel(distances, pixels),
            f"{prefix}l2_image": l2_image(distances),
        }
    return results
