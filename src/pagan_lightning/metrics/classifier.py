"""A small CNN classifier of the dataset's labels, usable as a torch-fidelity feature extractor.

On data far from ImageNet (Fashion-MNIST, MNIST) Inception's p(y|x) says little about the
content; a classifier trained on the dataset itself (``pagan-train-classifier``) gives IS, FID,
KID and RID (eq. 18) in its own feature space. It is registered with torch-fidelity as
``pagan-classifier`` and provides the same kinds of layers as torch-fidelity's Inception:
``penultimate`` (for FID / KID, like Inception's ``2048``), ``logits_unbiased`` (for IS / RID)
and ``logits``.

Weights file: ``torch.save`` of ``{"state_dict": ..., "meta": {...}}`` with plain tensors,
strings and numbers only, so that ``torch.load(path, weights_only=True)`` reads it. ``meta``
holds ``arch`` (the :class:`Classifier` arguments), ``dataset``, ``image_size``, ``classes``
and ``test_accuracy``.
"""

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from pagan_lightning.runtime.errors import MissingWeightsError
from pagan_lightning.runtime.safe_files import UnsafeFileError, safe_load

FEATURE_EXTRACTOR = "pagan-classifier"


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class Classifier(nn.Module):
    """Three conv blocks (``width``, 2x, 4x channels; two 2x poolings), average pooling to a
    4x4 grid (where on the image matters for clothes and digits), a ``feature_dim`` ReLU layer
    (the penultimate features) and a linear head to the logits.

    Input: float images in [-1, 1], NCHW, any size.
    """

    def __init__(
        self, channels: int = 1, num_classes: int = 10, width: int = 32, feature_dim: int = 128
    ) -> None:
        super().__init__()
        self.arch = {
            "channels": channels,
            "num_classes": num_classes,
            "width": width,
            "feature_dim": feature_dim,
        }
        self.body = nn.Sequential(
            _block(channels, width),
            nn.MaxPool2d(2),
            _block(width, 2 * width),
            nn.MaxPool2d(2),
            _block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * width * 16, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features (N, feature_dim)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes)."""
        return self.head(self.body(x))


def save_classifier(classifier: Classifier, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write the weights file (see the module docstring); ``arch`` is added to ``meta``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in classifier.state_dict().items()}
    partial = path.with_name(path.name + ".partial")  # a kill mid-save keeps the old file
    torch.save({"state_dict": state, "meta": {**meta, "arch": classifier.arch}}, partial)
    partial.replace(path)
    return path


def read_weights(path: str | Path) -> dict[str, Any]:
    """A classifier weights file (``state_dict`` and ``meta`` with ``arch``), loaded
    weights-only; anything else is a one-line :class:`~pagan_lightning.runtime.errors.UserError`."""
    saved = safe_load(path, "classifier weights")
    if not (isinstance(saved, dict) and "state_dict" in saved and "arch" in saved.get("meta", {})):
        found = sorted(saved)[:6] if isinstance(saved, dict) else type(saved).__name__
        raise UnsafeFileError(
            f"{path} is not a classifier weights file (found {found}); write one with "
            f"pagan-train-classifier, or point metrics.classifier_weights at it"
        )
    return saved


def classifier_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta`` entry of a weights file (dataset, classes, test accuracy, arch)."""
    return read_weights(path)["meta"]


def load_classifier(path: str | Path) -> tuple[Classifier, dict[str, Any]]:
    """The classifier (eval mode, CPU) and its ``meta`` from a weights file."""
    saved = read_weights(path)
    classifier = Classifier(**saved["meta"]["arch"])
    classifier.load_state_dict(saved["state_dict"])
    return classifier.eval(), saved["meta"]


class ClassifierFeatures(FeatureExtractorBase):
    """torch-fidelity feature extractor ``pagan-classifier`` around a :class:`Classifier`.

    Takes uint8 NCHW batches (as every torch-fidelity extractor), maps them to [-1, 1] as the
    datamodules do and resizes them (bilinear) to the classifier's training size if needed.

    Args:
        name: the registered name (``pagan-classifier``).
        features_list: requested layers among :meth:`get_provided_features_list`.
        feature_extractor_weights_path: the weights file written by ``pagan-train-classifier``
            (torch-fidelity passes its ``feature_extractor_weights_path`` argument here).
    """

    def __init__(
        self,
        name: str,
        features_list: list[str],
        feature_extractor_weights_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise MissingWeightsError(
                "the pagan-classifier feature extractor needs feature_extractor_weights_path "
                "(metrics.classifier_weights), written by `pagan-train-classifier`"
            )
        self.classifier, self.meta = load_classifier(feature_extractor_weights_path)
        self.image_size: int = self.meta["image_size"]
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if x.dtype != torch.uint8 or x.dim() != 4:
            raise ValueError(f"expected a uint8 NCHW batch, got {x.dtype} {tuple(x.shape)}")
        x = x.float() / 127.5 - 1
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear")
        penultimate = self.classifier.features(x)
        unbiased = penultimate @ self.classifier.head.weight.T
        features = {
            "penultimate": penultimate,
            "logits_unbiased": unbiased,
            "logits": unbiased + self.classifier.head.bias,
        }
        return tuple(features[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "penultimate", "logits_unbiased", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {
            "isc": "logits_unbiased",
            "fid": "penultimate",
            "kid": "penultimate",
            "prc": "penultimate",
        }[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False


if FEATURE_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(FEATURE_EXTRACTOR, ClassifierFeatures)
