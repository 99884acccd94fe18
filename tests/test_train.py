"""End to end: the ``pagan-train`` console script as a user runs it."""

import csv
import subprocess
from pathlib import Path

import pytest

from pagan_lightning.module import PAGAN
from pagan_lightning.runtime.checkpoint import load_checkpoint, load_module
from tests.helpers.configs import TINY, cli, console_script, offline

PAGAN_TRAIN = console_script("pagan-train")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def run(args: list[str], tmp_path: Path, check: bool = True) -> subprocess.CompletedProcess:
    out = cli(
        [PAGAN_TRAIN, *args, f"hydra.run.dir={tmp_path / 'run'}", "callbacks.progress_bar=null"],
        timeout=600,
    )
    if check and out.returncode != 0:
        raise AssertionError(f"pagan-train failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def test_quickstart_fast_dev_run_on_synthetic_idx(fashion_dir: Path, tmp_path: Path) -> None:
    run(["experiment=quickstart", "trainer.fast_dev_run=true", *offline(fashion_dir)], tmp_path)
    images = sorted(p.name for p in (tmp_path / "run" / "images").iterdir())
    assert images == ["reconstructions_000001.png", "samples_000001.png"]
    assert (tmp_path / "run" / "config_resolved.yaml").exists()


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist missing")
def test_quickstart_fast_dev_run_on_real_fashion_mnist(tmp_path: Path) -> None:
    run(
        ["experiment=quickstart", "trainer.fast_dev_run=true", f"paths.data_dir={tmp_path}"],
        tmp_path,
    )
    assert (tmp_path / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").exists()
    assert (tmp_path / "run" / "images" / "samples_000001.png").exists()


def test_short_run_writes_checkpoints_logs_and_resumes(fashion_dir: Path, tmp_path: Path) -> None:
    args = [
        *TINY,
        *offline(fashion_dir),
        "data.batch_size=16",
        "trainer.val_check_interval=4",
        "trainer.limit_val_batches=2",
        "trainer.log_every_n_steps=1",
        "callbacks.model_checkpoint.every_n_train_steps=2",
        "callbacks.image_grids.every_n_steps=2",
    ]
    run([*args, "trainer.max_steps=4"], tmp_path)
    out = tmp_path / "run"
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert checkpoints == ["last.ckpt", "step_000002.ckpt", "step_000004.ckpt"]
    assert (out / "images" / "samples_000004.png").exists()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    with open(out / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged = {k for row in rows for k, v in row.items() if v}
    games = {"train/d_x", "train/d_z", "train/d_pair", "train/g", "train/e"}
    assert games | {"val/rec_mse", "val/pair_match"} <= logged

    # a resume that changes hyper-parameters is refused, naming them, before Hydra writes
    # anything (no .hydra/resume<N>/, no line in the log)
    original, log = (out / "config_resolved.yaml").read_text(), (out / "train.log").read_bytes()
    changed = [*args, "trainer.max_steps=6", "ckpt_path=last", "seed=7", "data.batch_size=8"]
    refused = run(changed, tmp_path, check=False)
    assert refused.returncode == 1
    (line,) = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert "changes data.batch_size, seed from the run's config_resolved.yaml" in line
    assert "resume_changes=[data.batch_size,seed]" in line
    assert (out / "config_resolved.yaml").read_text() == original
    assert (out / "train.log").read_bytes() == log and not (out / ".hydra" / "resume1").exists()
    assert load_checkpoint(out / "checkpoints" / "last.ckpt")["global_step"] == 4

    # resume from the last checkpoint into the same run folder, up to 6 generator steps (a
    # longer run is no change); the first attempt's config stays, the resume's is beside it
    run([*args, "trainer.max_steps=6", "ckpt_path=last"], tmp_path)
    last = load_checkpoint(out / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 6
    assert (out / "config_resolved.yaml").read_text() == original
    assert "max_steps: 6" in (out / "config_resolved.resume1.yaml").read_text()
    assert "ckpt_path=last" in (out / ".hydra" / "resume1" / "overrides.yaml").read_text()
    model = load_module(out / "checkpoints" / "last.ckpt")
    assert isinstance(model, PAGAN)
    assert model.sample(2).shape == (2, 1, 32, 32)


def test_missing_data_is_one_clear_error(tmp_path: Path) -> None:
    out = run(["experiment=quickstart", *offline(tmp_path / "empty")], tmp_path, check=False)
    assert out.returncode != 0
    assert "error: FashionMNIST is not in" in out.stderr
    assert str((tmp_path / "empty").resolve()) in out.stderr
    assert "Traceback" not in out.stderr
