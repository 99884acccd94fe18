"""One call from a trained model to every metric of the paper's tables (1-3)."""

from collections.abc import Callable, Mapping
from typing import Any

import torch

from pagan_lightning.data import ImageDataModule
from pagan_lightning.metrics.config import MetricsConfig, metrics_config
from pagan_lightning.metrics.distributed import DistributedMetrics, InferenceModel

NO_ENCODER = "no RID, RMSE or AUG: the model has no encoder to reconstruct with (a plain GAN)"


def compute_metrics(
    model: InferenceModel,
    datamodule: ImageDataModule,
    cfg: MetricsConfig | Mapping[str, Any],
    augmenter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float | int | str]:
    """Evaluate ``model`` on ``datamodule`` as ``cfg`` (a :class:`MetricsConfig`, or the
    ``metrics`` node of a Hydra config) says; a flat dict of results. ``augmenter`` is a(x)
    of the AUG baseline row (``aug_*`` results; none without it).

    This is :class:`~pagan_lightning.metrics.DistributedMetrics` in one process, with the
    feature space named in the results. Runs on ``model.device`` in batches. The weights of
    the feature extractor are checked first
    (:class:`~pagan_lightning.runtime.errors.MissingWeightsError` when missing). Random draws
    (z of the generated images, the augmenter's crops, z_hat) are seeded by ``cfg.seed``
    without touching the caller's random state.

    Returns:
        ``features`` (``inception`` | ``classifier``), ``feature_extractor`` (torch-fidelity's
        name), ``feature_weights`` (the file used) and ``feature_weights_sha256`` (for the
        classifier also ``classifier_dataset`` and ``classifier_test_accuracy``); with
        ``cfg.num_samples > 0`` ``is``, ``is_std``, ``fid``, ``kid``, ``kid_std``,
        ``kid_subset_size``, ``num_samples``, ``num_real``; unless ``cfg.num_test == 0`` (or
        the model has no encoder: then ``no_rid``, the reason) ``rid``, ``rid_std``,
        ``rmse_pixel``, ``l2_image``, ``aug_*`` of the same, ``num_test`` and
        ``reconstruction`` (``sample`` or ``mean``).
    """
    metrics = DistributedMetrics(metrics_config(cfg))
    datamodule.setup("test")
    features = metrics.prepare(datamodule.name)
    results: dict[str, float | int | str] = {
        "features": features.name,
        "feature_extractor": features.extractor,
        **features.identity(),
    }
    if metrics.cfg.num_test != 0 and not getattr(model, "can_reconstruct", True):
        results["no_rid"] = NO_ENCODER
    return results | metrics(model, datamodule, augmenter)
