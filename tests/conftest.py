"""Shared fixtures; the helpers the test modules import are in :mod:`tests.helpers`."""

import os
from pathlib import Path

import pytest
import torch

from tests.helpers.configs import TINY, compose_train
from tests.helpers.files import write_mnist_like

if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 0)):
    # pytest -n N: the workers share the cores, and so do the commands each one runs
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    torch.set_num_threads(int(threads))


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
