"""What :func:`~pagan_lightning.metrics.compute_metrics` computes (``conf/metrics/``)."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pagan_lightning.runtime.errors import ConfigError

FEATURES = ("inception", "classifier")
RECONSTRUCTIONS = ("sample", "mean")


@dataclass
class MetricsConfig:
    """Settings of the evaluation; defaults follow the paper (Section 5, Tables 1-3).

    Args:
        features: feature space of IS / FID / KID / RID: ``inception`` (torch-fidelity's
            TF-compatible Inception-v3, as the paper) or ``classifier`` (the dataset's own
            classifier from ``pagan-train-classifier``).
        inception_weights: local copy of torch-fidelity's Inception weights
            (``weights-inception-2015-12-05-6726825d.pth``); ``None``: torch hub's cache,
            downloaded there on first use (needs internet).
        classifier_weights: the classifier weights file; ``{dataset}`` is replaced by the
            datamodule's name (e.g. ``FashionMNIST``).
        num_samples: generated images for IS, FID and KID (paper: 50,000); 0 skips them.
        num_real: training images for the FID / KID reference statistics (``None``: all).
        num_test: test images for RID and RMSE (``None``: all); 0 skips them.
        reconstruction: the x_rec of RID and RMSE: ``sample``, G(z_hat) with z_hat ~ q(z|x)
            (the paper's), or ``mean``, G(mu(x)).
        splits: sequential splits for the ± of IS and RID (paper: 10).
        kid: also compute KID (against the same training images as FID).
        kid_subsets, kid_subset_size: KID's subsets (size capped at the sample counts).
        batch_size: images per forward pass of the generator and the feature extractor.
        cache_dir: torch-fidelity's cache of real-data features / statistics (``None``:
            ``$TORCH_HOME/fidelity_cache``).
        seed: seed of z ~ p(z) for the generated images and of the augmenter for AUG.
        verbose: torch-fidelity's progress output on stderr.
    """

    features: str = "inception"
    inception_weights: str | None = None
    classifier_weights: str = "classifiers/{dataset}.pt"
    num_samples: int = 50_000
    num_real: int | None = None
    num_test: int | None = None
    reconstruction: str = "sample"
    splits: int = 10
    kid: bool = True
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    batch_size: int = 100
    cache_dir: str | None = None
    seed: int = 2020
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise ConfigError(f"metrics.features must be one of {FEATURES}, got {self.features!r}")
        if self.num_samples < 0 or (self.num_test is not None and self.num_test < 0):
            raise ConfigError("metrics.num_samples and metrics.num_test must be >= 0")
        if self.num_real is not None and self.num_real < 1:
            raise ConfigError(f"metrics.num_real={self.num_real} must be positive, or null: all")
        if self.reconstruction not in RECONSTRUCTIONS:
            raise ConfigError(
                f"metrics.reconstruction must be one of {RECONSTRUCTIONS}, "
                f"got {self.reconstruction!r}"
            )
        if self.cache_dir is None:  # torch-fidelity's own default, made explicit
            self.cache_dir = str(Path(torch.hub.get_dir()).parent / "fidelity_cache")
        if self.splits < 1 or self.batch_size < 1:
            raise ConfigError("metrics.splits and metrics.batch_size must be >= 1")
        if self.kid and (self.kid_subsets < 1 or self.kid_subset_size < 2):
            raise ConfigError(
                "metrics.kid_subsets must be >= 1 and metrics.kid_subset_size >= 2 "
                "(or metrics.kid=false)"
            )
        for key in ("num_samples", "num_test"):
            n = getattr(self, key)
            if n is not None and 0 < n < self.splits:
                raise ConfigError(f"metrics.{key}={n}: 0 or at least metrics.splits={self.splits}")


def metrics_config(cfg: MetricsConfig | Mapping[str, Any]) -> MetricsConfig:
    """``cfg`` as a :class:`MetricsConfig`: as is, or from a mapping of its fields such as the
    ``metrics`` node of a Hydra config (its ``_target_`` is ignored)."""
    if isinstance(cfg, MetricsConfig):
        return cfg
    return MetricsConfig(**{str(k): v for k, v in cfg.items() if k != "_target_"})
