"""A checkpoint written before the package took its current folder layout (runtime/,
reporting/) still loads and resumes: checkpoints name the paper's parts by paths that stay."""

import csv
import shutil
from pathlib import Path

import torch

from pagan_lightning import PAGAN, load_module
from pagan_lightning.runtime.checkpoint import load_checkpoint
from tests.helpers.configs import console_script, run_cli, synthetic_training
from tests.helpers.files import write_mnist_like

# pagan-train experiment=quickstart <synthetic_training> seed=3 trainer.max_steps=2
# callbacks.image_grids=null, at commit 9c9db27
FIXTURE = Path(__file__).parent / "fixtures" / "pagan-0.1.0-before-layout.ckpt"


def test_it_loads_as_the_module_it_names() -> None:
    model = load_module(FIXTURE)
    assert type(model) is PAGAN
    weights = torch.load(FIXTURE, weights_only=True)["state_dict"]
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, weights[name])
    assert model.sample(3).shape == (3, 1, 32, 32)


def test_training_resumes_from_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_mnist_like(data / "FashionMNIST" / "raw")
    ckpt = shutil.copy(FIXTURE, tmp_path / "old.ckpt")
    run = tmp_path / "run"
    run_cli(
        [
            console_script("pagan-train"),
            "experiment=quickstart",
            *synthetic_training(data),
            "seed=3",
            "trainer.max_steps=4",
            "callbacks.image_grids=null",
            "trainer.log_every_n_steps=1",
            f"hydra.run.dir={run}",
            f"ckpt_path={ckpt}",
        ]
    )
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == 4
    with open(run / "csv" / "metrics.csv") as f:  # steps 0 and 1 came from the fixture
        assert sorted({int(row["step"]) for row in csv.DictReader(f) if row.get("train/g")}) == [
            2,
            3,
        ]
