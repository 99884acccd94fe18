"""``pagan-evaluate`` on a tiny checkpoint writes every output; the tour notebook runs on it."""

import csv
import hashlib
import json
import math
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from PIL import Image

from pagan_lightning.cli.collect import collect
from pagan_lightning.cli.evaluate import results_table
from pagan_lightning.metrics import Classifier, save_classifier
from pagan_lightning.nets.pair import pair_match
from pagan_lightning.reporting.probe import read_pair_discriminator
from pagan_lightning.runtime.checkpoint import load_checkpoint, load_module
from tests.helpers.configs import cli, console_script, run_cli, synthetic_training
from tests.helpers.files import RunsCode, blob_images, write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 4-step ``pagan-train`` run on synthetic Fashion-MNIST and a stand-in classifier file
    (random weights, the real layout written by ``save_classifier``)."""
    root = tmp_path_factory.mktemp("evaluate")
    data = root / "data"
    write_mnist_like(data / "FashionMNIST" / "raw", n_train=256, n_test=64)
    run = root / "run"
    run_cli(
        [
            console_script("pagan-train"),
            *synthetic_training(data),
            "trainer.max_steps=4",
            "trainer.limit_val_batches=0",
            f"hydra.run.dir={run}",
        ]
    )
    meta = {"dataset": "FashionMNIST", "image_size": 32, "classes": list("0123456789")}
    meta["test_accuracy"] = 0.25
    classifier = save_classifier(Classifier(channels=1, num_classes=10), root / "clf.pt", meta)
    return {"ckpt": run / "checkpoints" / "last.ckpt", "classifier": classifier, "root": root}


def test_evaluate_writes_every_output(tiny_run: dict[str, Path]) -> None:
    out_dir = tiny_run["ckpt"].parents[1] / "eval" / "first"  # as the default <run>/eval/<date>
    run_cli(
        [
            console_script("pagan-evaluate"),
            f"ckpt_path={tiny_run['ckpt']}",
            "metrics.features=classifier",
            f"metrics.classifier_weights={tiny_run['classifier']}",
            "metrics.num_samples=40",
            "metrics.num_real=40",
            "metrics.num_test=20",
            "metrics.kid_subset_size=20",
            "metrics.batch_size=20",
            f"metrics.cache_dir={tiny_run['root'] / 'cache'}",
            "figures.n_samples=16",
            "figures.n_reconstructions=8",
            "figures.n_interpolations=2",
            "figures.steps=5",
            f"hydra.run.dir={out_dir}",
        ]
    )
    results = json.loads((out_dir / "metrics.json").read_text())
    assert results["features"] == "classifier" and results["dataset"] == "FashionMNIST"
    assert results["global_step"] == 4 and results["row"] == "pagan"
    assert results["num_samples"] == 40 and results["num_test"] == 20
    # which classifier scored it: digest and accuracy of the weights file
    digest = hashlib.sha256(tiny_run["classifier"].read_bytes()).hexdigest()
    assert results["feature_weights_sha256"] == digest
    assert results["classifier_test_accuracy"] == 0.25
    for key in ("is", "fid", "kid", "rid", "rmse_pixel", "l2_image", "aug_rid", "aug_l2_image"):
        assert math.isfinite(results[key]) and results[key] > 0, key
    # mean image distance <= root mean square distance (Jensen), sqrt(D) = 32 for 1x32x32
    assert results["l2_image"] <= 32 * results["rmse_pixel"] * (1 + 1e-6)
    assert results["aug_l2_image"] <= 32 * results["aug_rmse_pixel"] * (1 + 1e-6)
    # four training steps reconstruct worse than a shifted copy of x (the AUG row)
    assert results["rid"] > results["aug_rid"] and results["l2_image"] > results["aug_l2_image"]
    table = (out_dir / "results.md").read_text()
    assert "| ours: pagan |" in table and "| ours: AUG |" in table
    assert "Not comparable to the paper's numbers" in table
    sizes = {
        name: Image.open(out_dir / name).size
        for name in ("samples.png", "reconstructions.png", "interpolations.png", "rmse_vs_rid.png")
    }
    assert sizes["samples.png"] == (2 + 8 * 34, 2 + 2 * 34)  # 16 images, 8 per row, 2px pad
    assert sizes["interpolations.png"] == (2 + 5 * 34, 2 + 2 * 34)  # 2 pairs x 5 steps

    # a second evaluation into the same folder is refused before any work: one writer
    written, log = (out_dir / "metrics.json").read_bytes(), (out_dir / "evaluate.log").read_bytes()
    again = cli(
        [
            console_script("pagan-evaluate"),
            f"ckpt_path={tiny_run['ckpt']}",
            f"hydra.run.dir={out_dir}",
        ],
        timeout=600,
    )
    last = again.stderr.splitlines()[-1]
    assert again.returncode == 1 and "already holds results (metrics.json)" in last
    assert (out_dir / "metrics.json").read_bytes() == written
    assert (out_dir / "evaluate.log").read_bytes() == log  # not even Hydra's log

    # pagan-collect puts the evaluation beside the training metrics, one row for the run
    (row,) = collect(tiny_run["root"])
    assert row["variant"] == "pagan" and row["steps"] == "4" and row["features"] == "classifier"
    assert row["fid"] == f"{results['fid']:.4g}" and row["aug_rid"] == f"{results['aug_rid']:.4g}"


def test_results_table_puts_the_paper_beside_ours() -> None:
    ours = {"features": "inception", "feature_extractor": "inception-v3-compat", "is": 6.1}
    ours |= {"is_std": 0.1, "fid": 35.0, "rid": 12.0, "rid_std": 0.5, "l2_image": 8.0}
    ours |= {"aug_rid": 1.6, "aug_rid_std": 0.02, "aug_l2_image": 8.9}
    table = results_table(ours, "CIFAR10", "pagan")
    assert "| ours: pagan | 6.1 ± 0.1 | 35 |  | 12 ± 0.5 | 8 |  |" in table
    assert "| paper: pagan | 6.56 ± 0.06 | 32.84 |  | 13.01 ± 0.82 | 8.12 |  |" in table
    assert "| paper: aug |  |  |  | 1.57 ± 0.02 | 8.89 |  |" in table
    assert "Not comparable" not in table


def test_tour_notebook_runs_on_the_tiny_checkpoint(
    tiny_run: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(REPO / "notebooks" / "tour.ipynb", as_version=4)
    monkeypatch.setenv("PAGAN_TOUR_CKPT", str(tiny_run["ckpt"]))
    monkeypatch.setenv("PAGAN_TOUR_CLASSIFIER", str(tiny_run["classifier"]))
    resources = {"metadata": {"path": REPO / "notebooks"}}
    NotebookClient(notebook, timeout=300, resources=resources).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # samples, reconstructions, interpolation
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "reconstruction" in printed and "AUG a(x)" in printed and "RID" in printed


def test_fidelity_callback_logs_metrics_keeps_the_best_and_leaves_training_alone(
    tiny_run: dict[str, Path], tmp_path: Path
) -> None:
    """With the callback, val/fid etc. are logged and a best-FID checkpoint is kept; the
    trained weights are bit-identical to a run without it (its draws use their own RNG)."""
    base = [
        *synthetic_training(tiny_run["root"] / "data"),
        "trainer.max_steps=4",
        "trainer.val_check_interval=2",
        "trainer.limit_val_batches=1",
        "trainer.deterministic=true",
    ]
    fidelity = [
        "callbacks=fidelity",
        f"callbacks.fidelity_metrics.metrics.classifier_weights={tiny_run['classifier']}",
        "callbacks.fidelity_metrics.metrics.num_samples=20",
        "callbacks.fidelity_metrics.metrics.num_real=20",
        "callbacks.fidelity_metrics.metrics.num_test=20",
    ]
    for name, extra in (("plain", []), ("fidelity", fidelity)):
        run_cli([console_script("pagan-train"), *base, *extra, f"hydra.run.dir={tmp_path / name}"])
    with open(tmp_path / "fidelity" / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/fid")]
    assert [r["step"] for r in rows] == ["1", "3"]  # validations after batches 2 and 4
    assert all(float(r["val/rid"]) >= 1 and float(r["val/is"]) >= 1 for r in rows)
    assert len(list((tmp_path / "fidelity" / "checkpoints").glob("best_fid_*.ckpt"))) == 1
    weights = [
        load_checkpoint(tmp_path / name / "checkpoints" / "last.ckpt")["state_dict"]
        for name in ("plain", "fidelity")
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_probe_reads_a_trained_pair_discriminator(tiny_run: dict[str, Path]) -> None:
    """``python -m pagan_lightning.cli.probe --ckpt``: pair_match of the checkpoint's own D_xx and
    augmenter, the same as computed directly, and reading it changes nothing."""
    test = torch.from_numpy(blob_images(40, 32, seed=3)).float().div(127.5).sub(1).unsqueeze(1)
    model = load_module(tiny_run["ckpt"]).eval()
    reads = []
    for _ in range(2):
        torch.manual_seed(0)
        reads.append(read_pair_discriminator(model, test, batch_size=40))
    assert reads[0] == reads[1] and set(reads[0]) == {"pair_match", "real_over_rec"}
    torch.manual_seed(0)
    assert reads[0]["pair_match"] == pair_match(model.disc_pair, test, model.augmenter).item()


def evaluate_cli(tiny_run: dict[str, Path], out: Path, *overrides: str):
    args = [
        console_script("pagan-evaluate"),
        f"ckpt_path={tiny_run['ckpt']}",
        "metrics.features=classifier",
        f"metrics.classifier_weights={tiny_run['classifier']}",
        *[f"metrics.{k}=20" for k in ("num_samples", "num_real", "num_test", "batch_size")],
        "metrics.kid=false",
        f"hydra.run.dir={out}",
        *overrides,
    ]
    return cli(args, timeout=600)


def assert_refused(out: subprocess.CompletedProcess, message: str, marker: Path) -> None:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert message in out.stderr
    assert not marker.exists(), "the file's code ran"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("classifier_weights", "refused to load the classifier weights"),
        ("inception_weights", "refused to load the Inception weights"),
    ],
)
def test_weights_that_would_run_code_are_refused(
    tiny_run: dict[str, Path], tmp_path: Path, key: str, message: str
) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    torch.save({"conv.weight": torch.zeros(1), "x": RunsCode(marker)}, evil)
    features = "inception" if key == "inception_weights" else "classifier"
    out = evaluate_cli(
        tiny_run, tmp_path / "eval", f"metrics.features={features}", f"metrics.{key}={evil}"
    )
    assert_refused(out, message, marker)
    assert "GLOBAL posix.system" in out.stderr


def test_cached_features_that_would_run_code_are_refused(
    tiny_run: dict[str, Path], tmp_path: Path
) -> None:
    """The cached features of the training images load with ``weights_only=True``: a planted
    file is refused."""
    cache = tmp_path / "cache"
    first = evaluate_cli(tiny_run, tmp_path / "eval1", f"metrics.cache_dir={cache}")
    assert first.returncode == 0, first.stderr[-2000:]
    cached = sorted(cache.glob("*.pt"))
    assert cached
    marker = tmp_path / "ran"
    for path in cached:
        torch.save(RunsCode(marker), path)
    out = evaluate_cli(tiny_run, tmp_path / "eval2", f"metrics.cache_dir={cache}")
    assert_refused(out, "refused to load the cached features", marker)


def test_a_model_with_non_finite_weights_is_not_scored(
    tiny_run: dict[str, Path], tmp_path: Path
) -> None:
    """A generator of NaN weights used to be scored (FID 0.44, IS 1.0, exit 0); now one line
    names the weights and nothing is written."""
    checkpoint = torch.load(tiny_run["ckpt"], weights_only=True)
    name = next(k for k in checkpoint["state_dict"] if k.startswith("generator."))
    checkpoint["state_dict"][name].fill_(float("nan"))
    poisoned = tmp_path / "run" / "checkpoints" / "last.ckpt"
    poisoned.parent.mkdir(parents=True)
    torch.save(checkpoint, poisoned)
    shutil.copy(tiny_run["ckpt"].parents[1] / "config_resolved.yaml", tmp_path / "run")
    out_dir = tmp_path / "run" / "eval" / "nan"
    out = cli(
        [console_script("pagan-evaluate"), f"ckpt_path={poisoned}", f"hydra.run.dir={out_dir}"],
        timeout=600,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"non-finite weights in {name}" in last, last
    assert not (out_dir / "metrics.json").exists()
