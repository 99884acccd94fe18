"""Hydra entry point: ``pagan-train-classifier [overrides]`` (``conf/classifier.yaml``).

Trains the dataset's own :class:`~pagan_lightning.metrics.classifier.Classifier` on the
training split of ``data``, reports its accuracy on the test split and writes the weights file
that ``metrics.features=classifier`` reads (``weights``, by default
``classifiers/<dataset name>.pt``).
"""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import Dataset, Subset
from torchmetrics.classification import MulticlassAccuracy

from pagan_lightning.metrics.classifier import Classifier, classifier_meta, save_classifier
from pagan_lightning.runtime.configs import config_dir
from pagan_lightning.runtime.errors import ConfigError, UserError, bugs_reported, exit_with
from pagan_lightning.runtime.validate import check_nodes, check_run

log = logging.getLogger(__name__)
TOP_LEVEL = {"task_name", "seed", "weights", "overwrite", "classifier", "optimizer", "trainer"}
TOP_LEVEL |= {"data", "paths", "hydra"}


def class_names(dataset: Dataset) -> list[str]:
    """The label names of a torchvision dataset, looking through ``Subset`` wrappers."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    classes = getattr(dataset, "classes", None)
    if not classes:
        raise ConfigError(f"{type(dataset).__name__} has no class labels to train a classifier on")
    return [str(c) for c in classes]


class ClassifierTask(pl.LightningModule):
    """Cross-entropy training of a classifier on (x, y) batches; ``val/accuracy`` and
    ``test/accuracy`` logged."""

    def __init__(self, classifier: Classifier, optimizer: Callable[..., torch.optim.Optimizer]):
        super().__init__()
        self.classifier, self.make_optimizer = classifier, optimizer
        num_classes = classifier.arch["num_classes"]
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro")
        self.test_accuracy = MulticlassAccuracy(num_classes, average="micro")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.classifier(x), y)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.val_accuracy(self.classifier(x), y)
        self.log("val/accuracy", self.val_accuracy, prog_bar=True)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.test_accuracy(self.classifier(x), y)
        self.log("test/accuracy", self.test_accuracy)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.make_optimizer(self.classifier.parameters())


def describe(weights: Path) -> str:
    """A trained classifier's identity in a few words, for the overwrite refusal."""
    try:
        meta = classifier_meta(weights)
    except Exception:  # any unreadable file: still not ours to replace
        return "not a readable classifier file"
    return f"{meta.get('dataset')}, test accuracy {meta.get('test_accuracy', float('nan')):.4f}"


def train_classifier(cfg: DictConfig) -> tuple[Path, float]:
    """Train, test and save the classifier of ``cfg``; the weights path and test accuracy."""
    check_nodes(cfg, TOP_LEVEL)  # unknown keys and bad values, before any work
    check_run(cfg)
    datamodule = instantiate(cfg.data)
    weights = Path(cfg.weights.replace("{dataset}", datamodule.name))
    if weights.exists() and not cfg.overwrite:
        raise ConfigError(
            f"{weights} exists ({describe(weights)}); evaluations that use it would change. "
            f"Pass overwrite=true to replace it, or weights=<another path>"
        )
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    datamodule.prepare_data()
    datamodule.setup("fit")
    classes = class_names(datamodule.train_set)
    classifier: Classifier = instantiate(
        cfg.classifier, channels=datamodule.channels, num_classes=len(classes)
    )
    task = ClassifierTask(classifier, instantiate(cfg.optimizer))
    trainer: pl.Trainer = instantiate(cfg.trainer)
    trainer.fit(task, datamodule=datamodule)
    accuracy = float(trainer.test(task, datamodule=datamodule, verbose=False)[0]["test/accuracy"])
    meta = {
        "dataset": datamodule.name,
        "image_size": datamodule.image_size,
        "classes": classes,
        "test_accuracy": accuracy,
    }
    return save_classifier(classifier, weights, meta), accuracy


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="classifier")
def main(cfg: DictConfig) -> None:
    try:
        with bugs_reported(log):
            path, accuracy = train_classifier(cfg)
    except UserError as err:
        exit_with(err, log)
    log.info("test accuracy: %.4f; weights: %s", accuracy, path.resolve())


if __name__ == "__main__":
    main()
