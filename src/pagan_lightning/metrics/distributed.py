"""IS / FID / KID / RID computed by every process of the default process group, each on its
share of the images: the one implementation behind ``pagan-evaluate``
(:func:`~pagan_lightning.metrics.compute_metrics`, one process) and the ``fidelity`` callback
(every process of a DDP run).

Each process generates, reconstructs and extracts features for a contiguous share of the
images, in whole batches of the one-process batch grid (:func:`shard`). torchmetrics'
distributed metric states (``cat`` states, synced over the default process group at
``compute``) gather the per-image rows in rank order, so every process ends with every row in
the order one process would have. torch-fidelity's own formulas then give IS / FID / KID
(:func:`~pagan_lightning.metrics.fidelity.generation_scores`), and eq. (18) gives RID: one
process or N give ``pagan-evaluate``'s numbers for the same weights and settings.

torchmetrics' own FID / KID / IS classes are not used: their IS splits and KID subsets are drawn
from the global torch RNG (the training's random state) and their formulas differ in detail
from torch-fidelity's, so their numbers would not be ``pagan-evaluate``'s.
"""

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset
from torch_fidelity import FeatureExtractorBase
from torch_fidelity.registry import NOISE_SOURCE_REGISTRY
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from pagan_lightning.data.base import ImageDataModule, images_of
from pagan_lightning.metrics.config import MetricsConfig, metrics_config
from pagan_lightning.metrics.features import Features, resolve_features
from pagan_lightning.metrics.fidelity import feature_layers, generation_scores
from pagan_lightning.metrics.images import GeneratorSamples, Sampler, UInt8Images
from pagan_lightning.metrics.reconstruction import (
    RID_LAYER,
    Reconstructor,
    num_test_images,
    posterior_noise,
    reconstruction_rows,
    summarize_reconstruction,
)
from pagan_lightning.runtime.errors import ConfigError
from pagan_lightning.runtime.safe_files import safe_load

log = logging.getLogger(__name__)


class InferenceModel(Sampler, Reconstructor, Protocol):
    """A model the metrics can evaluate (PAGAN's inference API): ``device``, ``latent_dim``,
    ``sample(n, z=None)`` and ``reconstruct(x)``; images in [-1, 1]."""


def real_cache_name(datamodule: ImageDataModule, n: int | None, features: Features) -> str:
    """Cache name of the features of the first ``n`` (``None``: all) training images: the
    images (:meth:`ImageDataModule.training_images_tag`) and the feature space with its
    weights' digest."""
    return f"pagan-{datamodule.training_images_tag(n)}-{features.tag()}"


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


def shard(n: int, rank: int, world: int, batch_size: int = 1) -> range:
    """The share of ``rank`` among ``n`` items cut into batches of ``batch_size`` (the last
    one shorter): whole batches, contiguous, the ranks in order cover 0 .. n - 1 once, and
    their numbers of batches differ by at most one. Every batch is then the one a single
    process would form, so the features are computed on the same batches."""
    batches = -(-n // batch_size)
    first, stop = rank * batches // world, (rank + 1) * batches // world
    return range(first * batch_size, min(stop * batch_size, n))


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

    Each process takes whole batches of the batch grid that ``compute_metrics`` uses
    (:func:`shard`), so each image is processed in the same batch as there (single images
    when there are fewer batches than processes). The feature space is
    resolved once (:meth:`prepare`), its extractors built once per device, and the FID / KID
    features of the ``cfg.num_real`` training images extracted at the first call and kept.
    The caller's random state is left as it was.

    Args:
        cfg: a :class:`~pagan_lightning.metrics.MetricsConfig` or a mapping of its fields.
    """

    def __init__(self, cfg: MetricsConfig | Mapping[str, Any]) -> None:
        self.cfg = metrics_config(cfg)
        self.features: Features | None = None
        self._extractors: dict[tuple[str, ...], FeatureExtractorBase] = {}
        self._real: dict[str, torch.Tensor] | None = None

    def prepare(self, dataset: str) -> Features:
        """Resolve the feature space for the dataset named ``dataset`` (its weights must be at
        hand: :class:`~pagan_lightning.runtime.errors.MissingWeightsError` otherwise); once."""
        if self.features is None:
            self.features = resolve_features(self.cfg, dataset)
        return self.features

    def _extractor(self, layers: list[str], device: torch.device) -> FeatureExtractorBase:
        key = (str(device), *layers)
        if key not in self._extractors:
            assert self.features is not None
            self._extractors[key] = self.features.create(layers, device)
        return self._extractors[key]

    def __call__(
        self,
        model: InferenceModel,
        datamodule: ImageDataModule,
        augmenter: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> dict[str, float | int | str]:
        """The results of ``model`` on ``datamodule``: ``is``, ``is_std``, ``fid`` (``kid``,
        ``kid_std``, ``kid_subset_size``), ``num_samples``, ``num_real`` unless
        ``cfg.num_samples == 0``; ``rid``, ``rid_std``, ``rmse_pixel``, ``l2_image``,
        ``num_test``, ``reconstruction`` unless ``cfg.num_test == 0`` or the model cannot
        reconstruct (no encoder), and with an ``augmenter`` a(x) the same of the AUG baseline,
        prefixed ``aug_``."""
        cfg = self.cfg
        datamodule.setup("test")
        features = self.prepare(datamodule.name)
        device = torch.device(model.device)
        on_cuda = device.type == "cuda"
        results: dict[str, float | int | str] = {}
        # a DataLoader draws its base seed from the global generator: keep the caller's state
        with (
            torch.random.fork_rng(devices=[device] if on_cuda else []),
            torch.cuda.device(device) if on_cuda else contextlib.nullcontext(),
        ):
            if cfg.num_samples > 0:
                results |= self._generation(model, datamodule, features, device)
            if cfg.num_test != 0 and getattr(model, "can_reconstruct", True):
                test_set = datamodule.test_set
                results |= self._reconstruction(model, test_set, features, device, augmenter)
        return results

    def _share(self, n: int, what: str) -> range:
        """This process's share of ``n`` images: whole batches when there are at least as many
        batches as processes, else single images (then equal up to float rounding only)."""
        rank, world = process_group()
        if n < world:
            raise ConfigError(f"{what}: {n} images for {world} processes; give at least {world}")
        batch_size = self.cfg.batch_size if -(-n // self.cfg.batch_size) >= world else 1
        return shard(n, rank, world, batch_size)

    def check_counts(self, world: int) -> None:
        """Refuse image counts smaller than the number of processes ``world``, before any
        work (the counts that depend on the dataset's size are checked when used)."""
        for what in ("num_samples", "num_real", "num_test"):
            n = getattr(self.cfg, what)
            if n is not None and 0 < n < world:
                raise ConfigError(
                    f"metrics.{what}: {n} images for {world} processes; give at least {world}"
                )

    def _gathered(
        self, batches: Iterable[torch.Tensor], layers: list[str], device: torch.device
    ) -> dict[str, torch.Tensor]:
        """Features by layer of uint8 image ``batches`` (this process's share), with the rows
        of every process gathered in rank order, on the CPU."""
        extractor = self._extractor(layers, device)
        rows = {layer: GatheredRows().to(device) for layer in layers}
        for images in batches:
            with torch.no_grad():
                for layer, values in zip(layers, extractor(images.to(device)), strict=True):
                    rows[layer].update(values)
        return {layer: gathered.compute().cpu() for layer, gathered in rows.items()}

    def _generation(
        self,
        model: InferenceModel,
        datamodule: ImageDataModule,
        features: Features,
        device: torch.device,
    ) -> dict[str, float | int]:
        cfg = self.cfg
        layers = feature_layers(features)
        real_layers = sorted({layers["fid"], layers["kid"]})
        real = self._real_features(datamodule, features, real_layers, device)
        share = self._share(cfg.num_samples, "metrics.num_samples")
        codes = prior_codes(cfg.num_samples, model.latent_dim, cfg.seed)[share.start : share.stop]
        generate = GeneratorSamples(model, features.channels)
        images = (generate(z.to(device)) for z in codes.split(cfg.batch_size))
        generated = self._gathered(images, sorted(set(layers.values())), device)
        scores = generation_scores(generated, real, layers, cfg)
        num_real = len(real[layers["fid"]])
        return scores | {"num_samples": cfg.num_samples, "num_real": num_real}

    def _real_features(
        self,
        datamodule: ImageDataModule,
        features: Features,
        layers: list[str],
        device: torch.device,
    ) -> dict[str, torch.Tensor]:
        """The features of the ``cfg.num_real`` training images, extracted once: kept for the
        next call, and in one process also in ``cfg.cache_dir`` (loaded with
        ``weights_only=True``) under :func:`real_cache_name`."""
        if self._real is not None:
            return self._real
        cfg = self.cfg
        _, world = process_group()
        name = f"{real_cache_name(datamodule, cfg.num_real, features)}-features.pt"
        cache = Path(cfg.cache_dir) / name if world == 1 and cfg.cache_dir else None
        if cache is not None and cache.is_file():
            cached = safe_load(cache, "the cached features")
            if isinstance(cached, dict) and set(layers) <= set(cached):
                self._real = cached
                return cached
        real = UInt8Images(datamodule.train_set, cfg.num_real, features.channels)
        share = Subset(real, self._share(len(real), "metrics.num_real"))
        loader = DataLoader(share, batch_size=cfg.batch_size)
        self._real = self._gathered(loader, layers, device)
        if cache is not None:  # written whole, then renamed: a reader sees all of it or none
            partial = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                torch.save(self._real, partial)
                os.replace(partial, cache)
            except OSError as err:  # a cache that cannot be written only costs time
                with contextlib.suppress(OSError):
                    partial.unlink()
                log.warning("features not cached in %s: %s", cache.parent, err)
        return self._real

    def _reconstruction(
        self,
        model: InferenceModel,
        test_set: Dataset,
        features: Features,
        device: torch.device,
        augmenter: Callable[[torch.Tensor], torch.Tensor] | None,
    ) -> dict[str, float | int | str]:
        cfg = self.cfg
        n = num_test_images(test_set, cfg)
        share = Subset(test_set, self._share(n, "metrics.num_test"))
        extractor = self._extractor([RID_LAYER], device)
        prefixes = ["", "aug_"] if augmenter is not None else [""]
        kl = {prefix: GatheredRows().to(device) for prefix in prefixes}
        squared = {prefix: GatheredRows().to(device) for prefix in prefixes}
        pixels = 0
        for i, batch in enumerate(DataLoader(share, batch_size=cfg.batch_size)):
            x = images_of(batch).to(device)
            pixels = x[0].numel()
            first = share.indices[i * cfg.batch_size]
            noise = posterior_noise(cfg, first, device)
            # a(x) draws from the global generators (restored by __call__), seeded per batch
            torch.manual_seed(cfg.seed * 1_000_003 + first + 1)
            rows = reconstruction_rows(model, x, extractor, features.channels, augmenter, noise)
            for prefix, (kl_rows, squared_rows) in rows.items():
                kl[prefix].update(kl_rows)
                squared[prefix].update(squared_rows)
        results: dict[str, float | int | str] = {"num_test": n}
        results["reconstruction"] = cfg.reconstruction
        for prefix in prefixes:
            rows = kl[prefix].compute().cpu(), squared[prefix].compute().cpu()
            results |= summarize_reconstruction(prefix, *rows, pixels, cfg.splits)
        return results
