"""``scripts/gpu_check.sh`` (``make gpu-check``) runs end to end on the CPU with
tiny settings and synthetic Fashion-MNIST archives in Debian's layout, as it will on a GPU box:
``python -m`` entry points only, data from a folder of ``.gz`` files, one output folder."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from pagan_lightning.runtime.checkpoint import load_checkpoint
from tests.helpers.configs import TINY
from tests.helpers.files import write_mnist_like

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_script_writes_every_result(tmp_path: Path) -> None:
    archives = tmp_path / "fashion-mnist"
    write_mnist_like(archives, n_train=256, n_test=64, gz=True)
    small = ["data.val_size=56", "data.batch_size=16"]
    env = os.environ | {
        "PYTHON": sys.executable,
        "FMNIST": str(archives),
        "ACCEL": "default",  # the CPU trainer config
        "BENCH": "fp32 bf16",
        "BENCH_STEPS": "2",
        "BENCH_WARMUP": "1",
        "TRAIN_TIME": "00:00:00:04",
        "TRAIN_EXTRA": " ".join([*TINY, *small]),
        "CLASSIFIER_EXTRA": " ".join([*small, "trainer.max_steps=3"]),
        "EVAL_EXTRA": "metrics.num_samples=40 metrics.num_real=40 metrics.num_test=20 "
        "metrics.kid_subset_size=20",
    }
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = (out / "bench.md").read_text().splitlines()
    assert [row.split(" | ")[0] for row in table[2:]] == ["| fp32", "| bf16"]
    assert (out / "train" / "checkpoints" / "last.ckpt").is_file()
    assert (out / "classifier" / "FashionMNIST.pt").is_file()
    metrics = json.loads((out / "train" / "eval" / "metrics.json").read_text())
    assert metrics["features"] == "classifier" and math.isfinite(metrics["fid"])
    # it scored the checkpoint the run wrote, at the step the run reached
    last = out / "train" / "checkpoints" / "last.ckpt"
    assert Path(metrics["checkpoint"]).resolve() == last.resolve()
    assert metrics["global_step"] == load_checkpoint(last)["global_step"] > 0
    assert (out / "train" / "eval" / "samples.png").is_file()
    assert "== done" in (out / "gpu_check.log").read_text()
