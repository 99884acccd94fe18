"""One call from a trained model to every metric of the paper's tables (1-3)."""

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import torch

from pagan_lightning.data import ImageDataModule
from pagan_lightning.metrics.config import MetricsConfig, metrics_config
from pagan_lightning.metrics.features import Features, resolve_features
from pagan_lightning.metrics.fidelity import generation_metrics
from pagan_lightning.metrics.images import Sampler
from pagan_lightning.metrics.reconstruction import Reconstructor, reconstruction_metrics

NO_ENCODER = "no RID, RMSE or AUG: the model has no encoder to reconstruct with (a plain GAN)"


class InferenceModel(Sampler, Reconstructor, Protocol):
    """A model the metrics can evaluate (PAGAN's inference API): ``device``, ``latent_dim``,
    ``sample(n, z=None)`` and ``reconstruct(x)``; images in [-1, 1]."""


def real_cache_name(datamodule: ImageDataModule, n: int | None, features: Features) -> str:
    """torch-fidelity cache name of the first ``n`` (``None``: all) training images' features:
    the images (:meth:`ImageDataModule.training_images_tag`) and the feature space with its
    weights' digest."""
    return f"pagan-{datamodule.training_images_tag(n)}-{features.tag()}"


def compute_metrics(
    model: InferenceModel,
    datamodule: ImageDataModule,
    cfg: MetricsConfig | Mapping[str, Any],
    augmenter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float | int | str]:
    """Evaluate ``model`` on ``datamodule`` as ``cfg`` (a :class:`MetricsConfig`, or the
    ``metrics`` node of a Hydra config) says; a flat dict of results. ``augmenter`` is a(x)
    of the AUG baseline row (``aug_*`` results; none without it).

    Runs on ``model.device`` in batches. The weights of the feature extractor are checked first
    (:class:`~pagan_lightning.runtime.errors.MissingWeightsError` when missing). Random draws (z of
    the generated images, the augmenter's crops) are seeded by ``cfg.seed`` without touching the
    caller's random state.

    Returns:
        ``features`` (``inception`` | ``classifier``), ``feature_extractor`` (torch-fidelity's
        name), ``feature_weights`` (the file used) and ``feature_weights_sha256`` (for the
        classifier also ``classifier_dataset`` and ``classifier_test_accuracy``); with
        ``cfg.num_samples > 0`` the entries of
        :func:`~pagan_lightning.metrics.fidelity.generation_metrics` (``is``, ``is_std``,
        ``fid``, ``kid``, ``kid_std``, ``kid_subset_size``, ``num_samples``, ``num_real``);
        unless ``cfg.num_test == 0`` (or the model has no encoder: then ``no_rid``, the reason)
        those of
        :func:`~pagan_lightning.metrics.reconstruction.reconstruction_metrics` (``rid``,
        ``rid_std``, ``rmse_pixel``, ``l2_image``, ``aug_*`` of the same, ``num_test``,
        ``reconstruction``: ``sample`` or ``mean``).
    """
    cfg = metrics_config(cfg)
    datamodule.setup("test")
    features = resolve_features(cfg, datamodule.name)
    results: dict[str, float | int | str] = {
        "features": features.name,
        "feature_extractor": features.extractor,
        **features.identity(),
    }
    device = torch.device(model.device)
    on_cuda = device.type == "cuda"
    with (
        torch.random.fork_rng(devices=[device] if on_cuda else []),
        torch.cuda.device(device) if on_cuda else contextlib.nullcontext(),
    ):
        if cfg.num_samples > 0:  # z from torch-fidelity's own generator, seeded by cfg.seed
            cache_name = real_cache_name(datamodule, cfg.num_real, features)
            results |= generation_metrics(
                model, device, datamodule.train_set, features, cfg, cache_name
            )
        if cfg.num_test != 0 and not getattr(model, "can_reconstruct", True):
            results["no_rid"] = NO_ENCODER
        elif cfg.num_test != 0:
            # seeded here: how much the generation step drew (cache hit or miss) must not matter
            torch.manual_seed(cfg.seed)
            test_set = datamodule.test_set
            results |= reconstruction_metrics(model, test_set, features, cfg, augmenter)
    return results
