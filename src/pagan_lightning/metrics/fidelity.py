"""Sample quality (Table 1): IS of generated images, FID and KID against the training set, by
torch-fidelity's own formulas on features already extracted."""

import torch
from torch_fidelity import (
    KEY_METRIC_FID,
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
)
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from pagan_lightning.metrics.config import MetricsConfig
from pagan_lightning.metrics.features import Features


def kid_subset_size(cfg: MetricsConfig, n_generated: int, n_real: int) -> int:
    """KID's subset size: ``cfg.kid_subset_size``, capped at both sample counts."""
    return min(cfg.kid_subset_size, n_generated, n_real)


def named_results(out: dict[str, float], kid: bool, subset_size: int) -> dict[str, float]:
    """torch-fidelity's result keys -> ``is``, ``is_std``, ``fid`` (``kid``, ``kid_std``,
    ``kid_subset_size``)."""
    results = {
        "is": out[KEY_METRIC_ISC_MEAN],
        "is_std": out[KEY_METRIC_ISC_STD],
        "fid": out[KEY_METRIC_FID],
    }
    if kid:
        results |= {
            "kid": out[KEY_METRIC_KID_MEAN],
            "kid_std": out[KEY_METRIC_KID_STD],
            "kid_subset_size": subset_size,
        }
    return results


def feature_layers(features: Features) -> dict[str, str]:
    """The extractor's layer of each metric (``isc``, ``fid``, ``kid``): the defaults that
    ``calculate_metrics`` uses."""
    extractor = FEATURE_EXTRACTORS_REGISTRY[features.extractor]
    return {m: extractor.get_default_feature_layer_for_metric(m) for m in ("isc", "fid", "kid")}


def generation_scores(
    generated: dict[str, torch.Tensor],
    real: dict[str, torch.Tensor],
    layers: dict[str, str],
    cfg: MetricsConfig,
) -> dict[str, float]:
    """IS, FID (and KID) from features already extracted, by torch-fidelity's own formulas
    with the arguments ``torch_fidelity.calculate_metrics`` gives them: the same numbers for the
    same features. ``generated``, ``real``: CPU features by layer name, one row per image (the
    generated images' IS, FID and KID layers, the training images' FID and KID layers);
    ``layers``: the layer of each metric (:func:`feature_layers`)."""
    out = isc_features_to_metric(
        generated[layers["isc"]], cfg.splits, shuffle=True, rng_seed=cfg.seed
    )
    out |= fid_statistics_to_metric(
        fid_features_to_statistics(generated[layers["fid"]]),
        fid_features_to_statistics(real[layers["fid"]]),
        verbose=False,
    )
    subset_size = kid_subset_size(cfg, len(generated[layers["fid"]]), len(real[layers["fid"]]))
    if cfg.kid:
        out |= kid_features_to_metric(
            generated[layers["kid"]],
            real[layers["kid"]],
            kid_subsets=cfg.kid_subsets,
            kid_subset_size=subset_size,
            rng_seed=cfg.seed,
            verbose=False,
        )
    return named_results(out, cfg.kid, subset_size)
