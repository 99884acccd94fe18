"""Feature spaces of the metrics: torch-fidelity's Inception or the project's classifier.

:func:`resolve_features` checks that the weights are at hand *before* any heavy work: a
missing file, or no internet for the first Inception download, is one
:class:`~pagan_lightning.runtime.errors.MissingWeightsError` that names the file and the config key.
"""

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch_fidelity import FeatureExtractorBase
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.utils import create_feature_extractor

from pagan_lightning.metrics.classifier import FEATURE_EXTRACTOR as CLASSIFIER_EXTRACTOR
from pagan_lightning.metrics.classifier import classifier_meta
from pagan_lightning.metrics.config import MetricsConfig
from pagan_lightning.runtime.errors import MissingWeightsError
from pagan_lightning.runtime.safe_files import check_no_code

INCEPTION_EXTRACTOR = "inception-v3-compat"
INCEPTION_FILE = URL_INCEPTION_V3.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Features:
    """A feature space ready to use.

    Attributes:
        name: ``inception`` or ``classifier`` (``metrics.features``).
        extractor: torch-fidelity's registered name of the feature extractor.
        weights: local weights file of the extractor.
        channels: image channels the extractor takes (grayscale is repeated), ``None``: as is.
    """

    name: str
    extractor: str
    weights: str
    channels: int | None

    def create(self, layers: list[str], device: torch.device) -> FeatureExtractorBase:
        """The extractor (torch-fidelity's own construction) on ``device``, eval mode."""
        return create_feature_extractor(
            self.extractor,
            layers,
            cuda=device.type == "cuda",
            feature_extractor_weights_path=self.weights,
            verbose=False,
        )

    @cached_property
    def sha256(self) -> str:
        """sha256 of the weights file: which extractor produced a number."""
        digest = hashlib.sha256()
        with open(self.weights, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def tag(self) -> str:
        """``<name>-<first 8 hex digits of the weights' sha256>``: names cache entries, so that
        statistics of other weights (a retrained classifier) are never reused."""
        return f"{self.name}-{self.sha256[:8]}"

    def identity(self) -> dict[str, Any]:
        """What a results file records about the extractor: its weights file and digest and,
        for the classifier, the dataset and test accuracy it was trained to."""
        out: dict[str, Any] = {"feature_weights": self.weights}
        out["feature_weights_sha256"] = self.sha256
        if self.name == "classifier":
            meta = classifier_meta(self.weights)
            out |= {
                "classifier_dataset": meta.get("dataset"),
                "classifier_test_accuracy": meta.get("test_accuracy"),
            }
        return out


def inception_weights(path: str | None, verbose: bool = False) -> str:
    """The local Inception weights file: ``path``, else torch hub's cache (where torch-fidelity
    itself downloads them), downloading it there if missing."""
    fix = (
        f"Fix: download {URL_INCEPTION_V3} where there is internet access and set "
        f"metrics.inception_weights=<path to {INCEPTION_FILE}>, or use "
        f"metrics.features=classifier (after `pagan-train-classifier`)."
    )
    if path is not None:
        if not Path(path).is_file():
            raise MissingWeightsError(f"metrics.inception_weights={path} is not a file. {fix}")
        check_no_code(path, "the Inception weights (metrics.inception_weights)")
        return str(path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if not cached.is_file():
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(URL_INCEPTION_V3, str(cached), progress=verbose)
        except (OSError, RuntimeError) as err:  # no network, HTTP error, bad hash
            raise MissingWeightsError(
                f"the Inception weights {INCEPTION_FILE} are not in torch hub's cache "
                f"({cached.parent}) and downloading them failed: {err}\n{fix}"
            ) from None
    check_no_code(cached, "the cached Inception weights")
    return str(cached)


def resolve_features(cfg: MetricsConfig, dataset: str) -> Features:
    """The feature space of ``cfg.features`` for the dataset named ``dataset``."""
    if cfg.features == "inception":
        weights = inception_weights(cfg.inception_weights, cfg.verbose)
        return Features("inception", INCEPTION_EXTRACTOR, weights, channels=3)
    weights = cfg.classifier_weights.replace("{dataset}", dataset)
    if not Path(weights).is_file():
        raise MissingWeightsError(
            f"classifier weights {Path(weights).resolve()} not found (metrics.classifier_weights"
            f"={cfg.classifier_weights}). Fix: run `pagan-train-classifier data=<this dataset>` "
            f"and point metrics.classifier_weights at the file it writes, or use "
            f"metrics.features=inception."
        )
    check_no_code(weights, "the classifier weights (metrics.classifier_weights)")
    return Features("classifier", CLASSIFIER_EXTRACTOR, weights, channels=None)
