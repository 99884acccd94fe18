"""Shared fixtures: synthetic data in the real on-disk formats and composed Hydra configs."""

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from pagan_lightning.train import config_dir

TINY = [  # narrow networks that train in seconds on a CPU
    "model.generator.ch=32",
    "model.encoder.ch=16",
    "model.disc_x.ch=16",
    "model.disc_z.hidden=[32,16]",
    "model.generator.latent_dim=8",
]


class RunsCode:
    """A pickle payload that creates ``path`` when unpickled: what a malicious file does."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def console_script(name: str) -> str:
    """Path of one of the project's console scripts in the running environment."""
    return str(Path(sys.executable).parent / name)


def synthetic_training(data: Path) -> list[str]:
    """``pagan-train`` overrides for tiny networks on the synthetic IDX files under ``data``
    (from :func:`write_mnist_like`, 256 training images: 200 after the hold-out, 12 batches)."""
    return [
        *TINY,
        f"paths.data_dir={data}",
        "data.system_dir=null",
        "data.download=false",
        "data.val_size=56",
        "data.batch_size=16",
        "callbacks.progress_bar=null",
    ]


def run_cli(args: list[str], env: dict[str, str] | None = None) -> None:
    """Run a console script command line; fail with its stderr when it fails."""
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """Write ``array`` (uint8) in the IDX format of (Fashion-)MNIST: magic, dims, raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def blob_images(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    """``n`` grayscale images, each a bright rectangle of random size and place on black."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size), dtype=np.uint8)
    for img in images:
        h, w = rng.integers(size // 4, size // 2, 2)
        top, left = rng.integers(0, size - h), rng.integers(0, size - w)
        img[top : top + h, left : left + w] = rng.integers(150, 256)
    return images


def write_mnist_like(folder: Path, n_train: int = 256, n_test: int = 64, gz: bool = False) -> None:
    """The four (Fashion-)MNIST IDX files with synthetic content, named as the real ones."""
    ext = ".gz" if gz else ""
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", blob_images(n, seed=seed), gz)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", labels, gz)


@pytest.fixture
def fashion_dir(tmp_path: Path) -> Path:
    """A data_dir holding synthetic Fashion-MNIST in torchvision's raw layout."""
    write_mnist_like(tmp_path / "data" / "FashionMNIST" / "raw", n_train=256, n_test=64)
    return tmp_path / "data"


def compose_train(overrides: list[str], tmp_path: Path) -> DictConfig:
    """Compose ``conf/train.yaml`` as ``pagan-train`` would, with outputs under ``tmp_path``."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "out")
    return cfg


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_model(tmp_path: Path):
    """A PAGAN with narrow networks for 32x32 grayscale images, built from the real config."""
    from pagan_lightning.train import instantiate_model

    return instantiate_model(compose_train(TINY, tmp_path))


def quiet_trainer(tmp_path: Path, **kwargs) -> pl.Trainer:
    """A CPU Trainer without loggers, checkpoints, progress bar or summary."""
    options = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        "accelerator": "cpu",
    }
    return pl.Trainer(**(options | kwargs))
