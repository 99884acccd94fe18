"""Faults and bad files end a command with one line naming the cause, no traceback, and
nothing lost (issue #12): a NaN loss, a truncated data file, an unreadable image read by a
DataLoader worker, a full disk while saving, ``pagan-evaluate`` without a checkpoint."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pagan_lightning.runtime.checkpoint import load_checkpoint
from tests.helpers.configs import TINY, cli, console_script, importing_tests, synthetic_training
from tests.helpers.files import write_mnist_like


def run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return cli(args, timeout=600, cwd=cwd, env=importing_tests())


def assert_one_line(out: subprocess.CompletedProcess, message: str) -> None:
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, last


def train(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        console_script("pagan-train"),
        *synthetic_training(data),
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_mnist_like(tmp_path / "data" / "FashionMNIST" / "raw")
    return tmp_path / "data"


def test_evaluate_without_a_checkpoint(tmp_path: Path) -> None:
    out = run([console_script("pagan-evaluate")], cwd=tmp_path)
    assert_one_line(out, "pagan-evaluate needs ckpt_path=<run>/checkpoints/<file>.ckpt")
    assert list(tmp_path.iterdir()) == []  # no output folder made


def test_nan_loss(data: Path, tmp_path: Path) -> None:
    out = run(train(data, tmp_path / "run", "trainer.max_steps=5", "model.optimizer_d.lr=1e30"))
    assert_one_line(out, "non-finite")
    assert "model.on_non_finite=skip" in out.stderr


def test_truncated_idx_file_is_named(data: Path, tmp_path: Path) -> None:
    images = data / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:10_000])
    out = run(train(data, tmp_path / "run", "trainer.max_steps=2"))
    assert_one_line(out, f"{images} is truncated or corrupt: 10000 bytes, its header says")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_truncated_system_archive_is_named_and_not_half_extracted(tmp_path: Path) -> None:
    system = tmp_path / "debian"
    write_mnist_like(system, gz=True)
    archive = system / "train-images-idx3-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:200])
    args = [*train(tmp_path / "data", tmp_path / "run"), f"data.system_dir={system}"]
    assert_one_line(run(args), f"{archive} is truncated or corrupt")
    assert not (tmp_path / "data" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_unreadable_image_in_a_worker_process(tmp_path: Path) -> None:
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    broken = folder / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    args = [
        console_script("pagan-train"),
        *TINY,
        "data=image_folder",
        f"data.data_dir={tmp_path / 'images'}",
        "data.channels=1",
        "data.val_size=4",
        "data.batch_size=8",
        "data.num_workers=2",
        "trainer.max_steps=20",
        "callbacks.progress_bar=null",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    out = run(args)
    assert_one_line(out, f"unreadable image {broken}")
    assert out.stderr.count(f"unreadable image {broken}") == 1  # not once per worker


def test_full_disk_while_saving_keeps_the_earlier_checkpoints(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    every = ["trainer.max_steps=9", "callbacks.model_checkpoint.every_n_train_steps=3"]
    full = "trainer.plugins=[{_target_:tests.helpers.faults.FullDiskCheckpointIO,full_at_step:6}]"
    assert_one_line(run(train(data, run_dir, *every, full)), "the device is full")
    checkpoints = run_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt", "step_000003.ckpt"]
    assert load_checkpoint(checkpoints / "last.ckpt")["global_step"] == 3
    resumed = run(train(data, run_dir, *every, "ckpt_path=last"))  # space freed: resume
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert load_checkpoint(checkpoints / "last.ckpt")["global_step"] == 9
