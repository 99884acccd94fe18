"""Synthetic data in the real on-disk formats, and files that must never be loaded."""

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch


class RunsCode:
    """A pickle payload that creates ``path`` when unpickled: what a malicious file does."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


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


def signed(images) -> torch.Tensor:
    return torch.from_numpy(images).float().div(127.5).sub(1).unsqueeze(1)
