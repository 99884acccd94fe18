"""``pagan-reproduce``: an interrupted reproduction resumes and redoes nothing finished; the
plain-GAN control trains, resumes and is evaluated without an encoder."""

import json
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pagan_lightning.cli.collect import collect, summarize
from pagan_lightning.metrics import Classifier, save_classifier
from pagan_lightning.runtime.checkpoint import load_checkpoint
from tests.helpers.configs import TINY, cli, synthetic_training
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

NO_ENCODER = ("model.encoder", "model.disc_z")  # TINY's keys that a plain GAN has not


def write_plan(root: Path, steps: int) -> Path:
    """Two models (PAGAN, GAN), one seed, on synthetic Fashion-MNIST with tiny networks."""
    data = root / "data"
    if not data.exists():
        write_mnist_like(data / "FashionMNIST" / "raw", n_train=256, n_test=64)
        meta = {"dataset": "FashionMNIST", "image_size": 32, "classes": list("0123456789")}
        save_classifier(
            Classifier(channels=1, num_classes=10), root / "clf.pt", meta | {"test_accuracy": 0.25}
        )
    common = [o for o in synthetic_training(data) if not o.startswith(NO_ENCODER)]
    plan = {
        "steps": steps,
        "seeds": [1],
        "common": [
            *common,
            "trainer.limit_val_batches=0",
            "callbacks.model_checkpoint.every_n_train_steps=2",
        ],
        "metrics": "quick",
        "evaluate": [
            f"metrics.classifier_weights={root / 'clf.pt'}",
            "metrics.num_samples=20",
            "metrics.num_real=20",
            "metrics.num_test=20",
            "metrics.kid_subset_size=10",
            "metrics.batch_size=10",
            f"metrics.cache_dir={root / 'cache'}",
            "figures.n_samples=8",
            "figures.n_reconstructions=4",
            "figures.n_interpolations=2",
            "figures.steps=3",
        ],
        "models": {
            "pagan": [o for o in TINY if o.startswith(NO_ENCODER)],
            "gan": ["variant=gan"],
        },
    }
    path = root / f"plan{steps}.yaml"
    OmegaConf.save(OmegaConf.create(plan), path)
    return path


def reproduce(plan: Path, root: Path) -> str:
    out = cli(
        [sys.executable, "-m", "pagan_lightning.cli.reproduce", str(plan), "--root", str(root)],
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stderr


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The GAN job interrupted at step 2 (a 2-step plan run on it alone), then the 4-step plan
    run twice."""
    base = tmp_path_factory.mktemp("reproduce")
    root = base / "out"
    short = OmegaConf.load(write_plan(base, 2))
    short.models = {"gan": short.models.gan}
    OmegaConf.save(short, base / "short.yaml")
    reproduce(base / "short.yaml", root)
    plan = write_plan(base, 4)
    first = reproduce(plan, root)
    metrics = {
        job: root / job / "seed1" / "eval" / "step_000004" / "metrics.json"
        for job in ("pagan", "gan")
    }
    stamps = {job: path.stat().st_mtime_ns for job, path in metrics.items()}
    second = reproduce(plan, root)
    return {"root": root, "first": first, "second": second, "metrics": metrics, "stamps": stamps}


def test_an_interrupted_job_resumes_and_a_new_one_starts(reproduction: dict) -> None:
    first = reproduction["first"]
    assert "gan/seed1: resuming at step 2" in first
    assert "ckpt_path=last" in first and first.count("pagan_lightning.cli.train") == 2
    for job in ("pagan", "gan"):
        ckpt = reproduction["root"] / job / "seed1" / "checkpoints" / "last.ckpt"
        assert load_checkpoint(ckpt)["global_step"] == 4


def test_a_finished_reproduction_redoes_nothing(reproduction: dict) -> None:
    second = reproduction["second"]
    assert "pagan_lightning.cli.train" not in second
    assert "pagan_lightning.cli.evaluate" not in second
    for job, path in reproduction["metrics"].items():
        assert path.stat().st_mtime_ns == reproduction["stamps"][job], job
    assert (reproduction["root"] / "summary.md").is_file()


def test_the_gan_is_evaluated_on_generation_only_and_says_why(reproduction: dict) -> None:
    gan = json.loads(reproduction["metrics"]["gan"].read_text())
    assert isinstance(gan["fid"], float) and isinstance(gan["is"], float)
    assert "rid" not in gan and "aug_rid" not in gan and "no encoder" in gan["no_rid"]
    out = reproduction["metrics"]["gan"].parent
    assert "No RID, RMSE or AUG: the model has no encoder" in (out / "results.md").read_text()
    assert (out / "samples.png").is_file() and not (out / "reconstructions.png").exists()
    pagan = json.loads(reproduction["metrics"]["pagan"].read_text())
    assert pagan["reconstruction"] == "sample" and isinstance(pagan["rid"], float)
    summary = (reproduction["root"] / "summary.md").read_text()
    assert "| GAN | 1 |" in summary and "| PAGAN (width) | 1 |" in summary


def test_exported_records_collect_to_the_same_table(reproduction: dict, tmp_path: Path) -> None:
    root, records = reproduction["root"], tmp_path / "records"
    out = cli(
        [sys.executable, "-m", "pagan_lightning.cli.collect", str(root), "--export", str(records)]
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert not list(records.rglob("*.ckpt")) and not list(records.rglob("events.out.*"))
    assert (records / "gan" / "seed1" / "eval" / "step_000004" / "samples.png").is_file()
    assert collect(records) == collect(root)  # steps from the evaluation, not the checkpoint
    assert summarize(records) == summarize(root)
