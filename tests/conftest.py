"""Shared fixtures; the helpers the test modules import are in :mod:`tests.helpers`."""

from pathlib import Path

import pytest
import torch

from tests.helpers.configs import TINY, compose_train
from tests.helpers.files import write_mnist_like


@pytest.fixture
def fashion_dir(tmp_path: Path) -> Path:
    """A data_dir holding synthetic Fashion-MNIST in torchvision's raw layout."""
    write_mnist_like(tmp_path / "data" / "FashionMNIST" / "raw", n_train=256, n_test=64)
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_model(tmp_path: Path):
    """A PAGAN with narrow networks for 32x32 grayscale images, built from the real config."""
    from pagan_lightning.runtime.configs import instantiate_model

    return instantiate_model(compose_train(TINY, tmp_path))
