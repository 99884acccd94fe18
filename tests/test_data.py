import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import datasets

from pagan_lightning.data import (
    CelebADataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    UnreadableImageError,
)
from pagan_lightning.runtime.errors import DataNotFoundError
from tests.helpers.files import write_mnist_like


def test_fashion_mnist_batches_are_signed_32x32(fashion_dir: Path) -> None:
    dm = FashionMNISTDataModule(
        data_dir=str(fashion_dir), system_dir=None, batch_size=16, val_size=56, download=False
    )
    dm.prepare_data()
    dm.setup("fit")
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() == -1 and x.max() <= 1
    assert (x[:, :, :2] == -1).all() and (x[:, :, :, -2:] == -1).all()  # the 2-pixel padding
    assert len(dm.train_set) == 200 and len(dm.val_set) == 56 and len(dm.test_set) == 64


def test_split_is_fixed_by_the_seed(fashion_dir: Path) -> None:
    def val_indices(seed: int) -> list[int]:
        dm = FashionMNISTDataModule(
            data_dir=str(fashion_dir), system_dir=None, val_size=50, download=False, seed=seed
        )
        dm.setup()
        return list(dm.val_set.indices)

    assert val_indices(0) == val_indices(0) != val_indices(1)


def test_fashion_mnist_is_extracted_from_the_debian_folder(tmp_path: Path) -> None:
    system = tmp_path / "usr-share"
    write_mnist_like(system, gz=True)  # the gzipped files as Debian installs them
    dm = FashionMNISTDataModule(
        data_dir=str(tmp_path / "data"), system_dir=str(system), val_size=6, download=False
    )
    dm.prepare_data()
    dm.setup()
    assert (tmp_path / "data/FashionMNIST/raw/train-images-idx3-ubyte").exists()
    assert len(dm.train_set) == 250


@pytest.mark.parametrize("image_size", [32, 64])
def test_batches_equal_torchvisions_image_by_image_path(fashion_dir: Path, image_size: int) -> None:
    """The images are transformed a batch at a time (``ImageTensors.__getitems__``) and equal
    what torchvision's dataset gives image by image (PIL) through the same transform; the
    labels too."""
    dm = FashionMNISTDataModule(
        data_dir=str(fashion_dir),
        system_dir=None,
        image_size=image_size,
        val_size=6,
        download=False,
    )
    dm.setup()
    x, y = next(iter(torch.utils.data.DataLoader(dm.test_set, batch_size=64)))
    reference = datasets.FashionMNIST(str(fashion_dir), train=False, transform=dm.transform())
    for i in range(64):
        image, label = reference[i]
        torch.testing.assert_close(x[i], image, atol=1e-2 if image_size == 64 else 0, rtol=0)
        assert y[i] == label


def test_resize_for_other_sizes(fashion_dir: Path) -> None:
    dm = FashionMNISTDataModule(
        data_dir=str(fashion_dir), system_dir=None, image_size=64, val_size=6, download=False
    )
    dm.setup()
    assert dm.test_set[0][0].shape == (1, 64, 64)


@pytest.mark.parametrize("cls", [MNISTDataModule, FashionMNISTDataModule])
def test_missing_data_offline_names_the_folder_and_the_fix(cls, tmp_path: Path) -> None:
    kwargs = {"system_dir": None} if cls is FashionMNISTDataModule else {}
    dm = cls(data_dir=str(tmp_path / "nowhere"), download=False, **kwargs)
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert str((tmp_path / "nowhere").resolve()) in message
    assert "data.download=true" in message and "data.data_dir" in message


def test_channels_must_match_the_dataset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1 channel"):
        MNISTDataModule(data_dir=str(tmp_path), channels=3)


def write_images(folder: Path, n: int, size: tuple[int, int] = (50, 40)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:06d}.jpg")


def test_image_folder(tmp_path: Path) -> None:
    write_images(tmp_path / "imgs" / "cats", 12)
    dm = ImageFolderDataModule(
        data_dir=str(tmp_path / "imgs"), image_size=16, batch_size=4, val_size=4, download=False
    )
    dm.prepare_data()
    dm.setup()
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert dm.test_set is dm.val_set  # no test/ folder


def test_image_folder_missing(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        ImageFolderDataModule(data_dir=str(tmp_path / "none")).prepare_data()


def test_celeba_plain_folder(tmp_path: Path) -> None:
    write_images(tmp_path / "celeba" / "img_align_celeba", 10, size=(178, 218))
    dm = CelebADataModule(data_dir=str(tmp_path), val_size=2, batch_size=4, download=False)
    dm.prepare_data()
    dm.setup()
    assert dm.train_set[0][0].shape == (3, 64, 64)
    assert len(dm.train_set) + len(dm.val_set) == 10  # fewer files than the official split


def test_celeba_missing_offline(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="img_align_celeba"):
        CelebADataModule(data_dir=str(tmp_path), download=False).prepare_data()


def hostile_folder(root: Path) -> Path:
    """A class folder with an 8-bit PNG, a 16-bit grayscale PNG, a FIFO named like an image,
    a 30x30 PNG and a symlink loop (``loop -> ..``)."""
    folder = root / "a"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((8, 8), 128, dtype=np.uint8)).save(folder / "gray8.png")
    Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16)).save(folder / "gray16.png")
    Image.fromarray(np.zeros((30, 30), dtype=np.uint8)).save(folder / "large.png")
    os.mkfifo(folder / "fifo.png")
    (folder / "loop").symlink_to("..")
    return root


def test_hostile_image_folders_are_indexed_safely(tmp_path: Path, monkeypatch) -> None:
    """A FIFO is never opened (skipped, or refused in raise mode), a symlink loop indexes each
    file once (and so never on both sides of the split), a 16-bit PNG keeps its range (half
    grey, not white), and PIL's size limit is a skip or a one-line error, not a traceback."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 30x30 > 2 x 200: a "bomb"
    root = hostile_folder(tmp_path / "images")
    dm = ImageFolderDataModule(
        data_dir=str(root),
        image_size=8,
        channels=1,
        val_size=1,
        batch_size=1,
        on_bad_image="skip",
    )
    with pytest.warns(UserWarning):
        dm.setup()
    files = [Path(p).name for p, _ in dm.train_set.dataset.samples]
    assert sorted(files) == ["gray16.png", "gray8.png"]
    assert sorted(Path(p).name for p in dm.skipped[str(root)]) == ["fifo.png", "large.png"]
    full = dm.train_set.dataset
    images = {Path(p).name: full[i][0] for i, (p, _) in enumerate(full.samples)}
    assert images["gray16.png"].mean().item() == pytest.approx(0.0, abs=0.01)  # 32768/65535
    assert images["gray8.png"].mean().item() == pytest.approx(128 / 255 * 2 - 1, abs=0.01)

    strict = ImageFolderDataModule(
        data_dir=str(root), image_size=8, channels=1, val_size=1, batch_size=1
    )
    with pytest.raises(UnreadableImageError, match=r"fifo\.png is not a regular file"):
        strict.setup()
    (root / "a" / "fifo.png").unlink()
    strict = ImageFolderDataModule(
        data_dir=str(root), image_size=8, channels=1, val_size=1, batch_size=1
    )
    strict.setup()
    large = next(i for i, (p, _) in enumerate(strict.train_set.dataset.samples) if "large" in p)
    with pytest.raises(UnreadableImageError, match=r"unreadable image .*large\.png"):
        strict.train_set.dataset[large]
