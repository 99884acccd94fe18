"""Evaluation metrics of the paper: IS and FID (Table 1, plus KID) via torch-fidelity, RID
(eq. 18) and pixel RMSE (Table 2), in Inception's or the dataset classifier's feature space.

Entry point: :func:`compute_metrics` (model + datamodule + :class:`MetricsConfig` -> flat dict);
:class:`DistributedMetrics` computes the same with the work shared by the processes of a DDP run.
Importing this package registers the ``pagan-classifier`` feature extractor with torch-fidelity.
"""

from pagan_lightning.metrics.classifier import Classifier, load_classifier, save_classifier
from pagan_lightning.metrics.compute import InferenceModel, compute_metrics
from pagan_lightning.metrics.config import FEATURES, MetricsConfig, metrics_config
from pagan_lightning.metrics.distances import l2_image, rmse_pixel, squared_distances
from pagan_lightning.metrics.distributed import DistributedMetrics
from pagan_lightning.metrics.features import Features, inception_weights, resolve_features
from pagan_lightning.metrics.images import GeneratorSamples, UInt8Images, to_uint8, to_unit
from pagan_lightning.metrics.rid import kl_divergence, rid

__all__ = [
    "FEATURES",
    "Classifier",
    "DistributedMetrics",
    "Features",
    "GeneratorSamples",
    "InferenceModel",
    "MetricsConfig",
    "UInt8Images",
    "compute_metrics",
    "inception_weights",
    "kl_divergence",
    "l2_image",
    "load_classifier",
    "metrics_config",
    "resolve_features",
    "rid",
    "rmse_pixel",
    "save_classifier",
    "squared_distances",
    "to_uint8",
    "to_unit",
]
