"""The metrics of :func:`~pagan_lightning.metrics.compute_metrics` computed by every process of
a distributed run (the ``fidelity`` callback under DDP), each on its share of the images.

Each process generates, reconstructs and extracts features for a contiguous share of the images
(:func:`shard`). torchmetrics' distributed metric states (``cat`` states, synced over the
default process group at ``compute``) gather the per-image rows in rank order, so every process
ends with every row in the order one process would have. torch-fidelity's own formulas then give
IS / FID / KID (:func:`~pagan_lightning.metrics.fidelity.generation_scores`), and eq. (18) gives
RID: one process or N give ``pagan-evaluate``'s numbers for the same weights and settings.

torchmetrics' own FID / KID / IS classes are not used: their IS splits and KID subsets are drawn
from the global torch RNG (the training's random state) and their formulas differ in detail
from torch-fidelity's, so their numbers would not be ``pagan-evaluate``'s.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset
from torch_fidelity.registry import NOISE_SOURCE_REGISTRY
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from pagan_lightning.data.base import ImageDataModule, images_of
from pagan_lightning.errors import ConfigError
from pagan_lightning.metrics.compute import InferenceModel
from pagan_lightning.metrics.config import MetricsConfig, metrics_config
from pagan_lightning.metrics.features import Features, resolve_features
from pagan_lightning.metrics.fidelity import feature_layers, generation_scores
from pagan_lightning.metrics.images import GeneratorSamples, UInt8Images
from pagan_lightning.metrics.reconstruction import (
    RID_LAYER,
    num_test_images,
    reconstruction_rows,
    summarize_reconstruction,
)


class GatheredRows(Metric):
    """Per-image rows (features, KLs, distances) that this process adds with ``update``;
    ``compute`` returns the rows of every process in rank order, as one tensor."""

    full_state_update = False
    rows: list[torch.Tensor]

    def __init__(self) -> None:
        super().__init__()
        self.add_state("rows", default=[], dist_reduce_fx="cat")

    def update(self, rows: torch.Tensor) -> None:
        self.rows.append(rows)

    def compute(self) -> torch.Tensor:
        return dim_zero_cat(self.rows)


def process_group() -> tuple[int, int]:
    """``(rank, world size)`` of the default process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(n: int, rank: int, world: int) -> range:
    """The contiguous share of ``rank`` among ``n`` items: the ranks in order cover 0 .. n - 1
    once, and their sizes differ by at most one."""
    return range(rank * n // world, (rank + 1) * n // world)


def prior_codes(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """The ``n`` codes z ~ N(0, I) that torch-fidelity feeds a generative model for
    ``rng_seed=seed``: its ``normal`` noise source on ``numpy.random.RandomState(seed)``
    (torch-fidelity draws them batch by batch from that one stream)."""
    return NOISE_SOURCE_REGISTRY["normal"](np.random.RandomState(seed), (n, latent_dim))


class DistributedMetrics:
    """IS / FID / KID of ``cfg.num_samples`` generated images and RID / pixel distances of the
    first ``cfg.num_test`` test images, as :func:`~pagan_lightning.metrics.compute_metrics`
    computes them (without the AUG row), with the work shared by the processes of the default
    process group. Every process must call it (it synchronises) and gets the same results.

    The FID / KID features of the ``cfg.num_real`` training images are extracted at the first
    call and kept. The caller's random state is left as it was.

    Args:
        cfg: a :class:`~pagan_lightning.metrics.MetricsConfig` or a mapping of its fields.
    """

    def __init__(self, cfg: MetricsConfig | Mapping[str, Any]) -> None:
        self.cfg = metrics_config(cfg)
        self._real: torch.Tensor | None = None

    def __call__(
        self, model: InferenceModel, datamodule: ImageDataModule
    ) -> dict[str, float | int]:
        """The results of ``model`` on ``datamodule``: ``is``, ``is_std``, ``fid`` (``kid``,
        ``kid_std``, ``kid_subset_size``), ``num_samples``, ``num_real`` unless
        ``cfg.num_samples == 0``; ``rid``, ``rid_std``, ``rmse_pixel``, ``l2_image``,
        ``num_test`` unless ``cfg.num_test == 0``."""
        cfg = self.cfg
        datamodule.setup("test")
        features = resolve_features(cfg, datamodule.name)
        device = torch.device(model.device)
        results: dict[str, float | int] = {}
        # a DataLoader draws its base seed from the global generator: keep the caller's state
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if cfg.num_samples > 0:
                results |= self._generation(model, datamodule.train_set, features, device)
            if cfg.num_test != 0:
                results |= self._reconstruction(model, datamodule.test_set, features, device)
        return results

    @staticmethod
    def _share(n: int, what: str) -> range:
        rank, world = process_group()
        if n < world:
            raise ConfigError(f"{what}: {n} images for {world} processes; give at least {world}")
        return shard(n, rank, world)

    def _generation(
        self, model: InferenceModel, train_set: Dataset, features: Features, device: torch.device
    ) -> dict[str, float | int]:
        cfg = self.cfg
        logits_layer, fid_layer = feature_layers(features)
        extractor = features.create([logits_layer, fid_layer], device)
        if self._real is None:
            real = UInt8Images(train_set, cfg.num_real, features.channels)
            real_rows = GatheredRows().to(device)
            share = Subset(real, self._share(len(real), "metrics.num_real"))
            for images in DataLoader(share, batch_size=cfg.batch_size):
                with torch.no_grad():
                    real_rows.update(extractor(images.to(device))[1])
            self._real = real_rows.compute().cpu()
        share = self._share(cfg.num_samples, "metrics.num_samples")
        codes = prior_codes(cfg.num_samples, model.latent_dim, cfg.seed)[share.start : share.stop]
        generate = GeneratorSamples(model, features.channels)
        logits, generated = GatheredRows().to(device), GatheredRows().to(device)
        for z in codes.split(cfg.batch_size):
            with torch.no_grad():
                rows = extractor(generate(z.to(device)))
            logits.update(rows[0])
            generated.update(rows[1])
        rows = logits.compute().cpu(), generated.compute().cpu()
        scores = generation_scores(*rows, self._real, cfg)
        return scores | {"num_samples": cfg.num_samples, "num_real": len(self._real)}

    def _reconstruction(
        self, model: InferenceModel, test_set: Dataset, features: Features, device: torch.device
    ) -> dict[str, float | int]:
        cfg = self.cfg
        n = num_test_images(test_set, cfg)
        share = Subset(test_set, self._share(n, "metrics.num_test"))
        extractor = features.create([RID_LAYER], device)
        kl, squared = GatheredRows().to(device), GatheredRows().to(device)
        pixels = 0
        for batch in DataLoader(share, batch_size=cfg.batch_size):
            x = images_of(batch).to(device)
            pixels = x[0].numel()
            ((kl_rows, squared_rows),) = reconstruction_rows(
                model, x, extractor, features.channels
            ).values()
            kl.update(kl_rows)
            squared.update(squared_rows)
        rows = kl.compute().cpu(), squared.compute().cpu()
        return {"num_test": n} | summarize_reconstruction("", *rows, pixels, cfg.splits)
