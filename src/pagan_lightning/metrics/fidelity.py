"""Sample quality (Table 1): IS of generated images, FID and KID against the training set,
all computed by ``torch_fidelity.calculate_metrics`` in one pass over the generator."""

from pathlib import Path

import torch
from torch.utils.data import Dataset
from torch_fidelity import (
    KEY_METRIC_FID,
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    calculate_metrics,
)
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from pagan_lightning.metrics.config import MetricsConfig
from pagan_lightning.metrics.features import Features
from pagan_lightning.metrics.images import GeneratorSamples, Sampler, UInt8Images
from pagan_lightning.runtime.safe_files import check_no_code


def generation_metrics(
    model: Sampler,
    device: torch.device,
    train_set: Dataset,
    features: Features,
    cfg: MetricsConfig,
    cache_name: str,
) -> dict[str, float | int]:
    """IS, FID (and KID) of ``cfg.num_samples`` images x_prior = G(z) against the first
    ``cfg.num_real`` images of ``train_set``.

    z comes from torch-fidelity's noise source seeded with ``cfg.seed``. The features (and FID
    statistics) of the training images are cached by torch-fidelity in ``cfg.cache_dir`` under
    ``cache_name``, which must identify the images and the feature space.

    Returns ``is``, ``is_std`` (``cfg.splits`` splits), ``fid``, with ``cfg.kid`` also ``kid``,
    ``kid_std``, ``kid_subset_size``; and ``num_samples``, ``num_real``.
    """
    for cached in sorted(Path(cfg.cache_dir).glob(f"{cache_name}*.pt")):  # torch-fidelity
        check_no_code(cached, "the cached statistics", numpy=True)  # unpickles them in full
    real = UInt8Images(train_set, cfg.num_real, features.channels)
    subset_size = kid_subset_size(cfg, cfg.num_samples, len(real))
    out = calculate_metrics(
        input1=GeneratorSamples(model, features.channels),
        input1_model_num_samples=cfg.num_samples,
        input2=real,
        input2_cache_name=cache_name,
        isc=True,
        fid=True,
        kid=cfg.kid,
        isc_splits=cfg.splits,
        kid_subsets=cfg.kid_subsets,
        kid_subset_size=subset_size,
        batch_size=cfg.batch_size,
        cuda=device.type == "cuda",
        cache_root=cfg.cache_dir,
        rng_seed=cfg.seed,
        save_cpu_ram=True,  # no DataLoader workers
        verbose=cfg.verbose,
        **features.fidelity_kwargs(),
    )
    return named_results(out, cfg.kid, subset_size) | {
        "num_samples": cfg.num_samples,
        "num_real": len(real),
    }


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
    with the arguments :func:`generation_metrics` gives them: the same numbers for the same
    features. ``generated``, ``real``: CPU features by layer name, one row per image (the
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
