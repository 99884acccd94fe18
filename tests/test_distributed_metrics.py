"""FID / IS / KID / RID shared by the processes of a run (issue #11): each rank evaluates its
share and torchmetrics gathers the rows; the numbers must be ``compute_metrics``' (the function
of ``pagan-evaluate``) on one process, for one process and for two (gloo, uneven shares)."""

import json
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hydra.utils import instantiate

from pagan_lightning.metrics import Classifier, DistributedMetrics, compute_metrics, save_classifier
from pagan_lightning.metrics.distributed import prior_codes, shard
from pagan_lightning.reporting.callbacks import use_rank_zero_buffers
from pagan_lightning.runtime.configs import instantiate_model
from pagan_lightning.runtime.errors import ConfigError
from tests.helpers.configs import cli, compose_train, console_script, synthetic_training
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

COMPARED = ("is", "is_std", "fid", "kid", "kid_std", "rid", "rid_std", "rmse_pixel", "l2_image")
COUNTS = ("num_samples", "num_real", "num_test", "kid_subset_size")


def setting(root: Path) -> tuple[list[str], dict]:
    """Overrides of a tiny PAGAN on synthetic Fashion-MNIST under ``root``, and metrics settings
    whose counts do not divide evenly by two processes, nor by the batch size; the classifier
    is a stand-in (random weights, the real file layout)."""
    write_mnist_like(root / "data" / "FashionMNIST" / "raw", n_train=256, n_test=64)
    meta = {"dataset": "FashionMNIST", "image_size": 32, "classes": list("0123456789")}
    classifier = Classifier(channels=1, num_classes=10)
    with torch.no_grad():  # confident random predictions: IS and RID away from 1
        classifier.head.weight.mul_(1000)
    weights = save_classifier(classifier, root / "clf.pt", meta | {"test_accuracy": 0.2})
    metrics = {
        "features": "classifier",
        "classifier_weights": str(weights),
        "num_samples": 45,
        "num_real": 33,
        "num_test": 27,
        "kid_subsets": 10,
        "kid_subset_size": 20,
        "splits": 5,
        "batch_size": 8,
        "cache_dir": str(root / "cache"),
    }
    return synthetic_training(root / "data"), metrics


def model_and_data(overrides: list[str], root: Path):
    """The same model and datamodule in every process. The initial generator draws a near
    constant gray in eval mode (BatchNorm's initial running statistics, N(0, 0.02) weights),
    which no feature extractor tells apart: statistics of 50 training-mode batches and a 20x
    last layer make images that differ."""
    torch.manual_seed(0)
    cfg = compose_train(overrides, root)
    model = instantiate_model(cfg)
    with torch.no_grad():
        for _ in range(50):
            model.generator(torch.randn(64, model.latent_dim))
        model.generator.body[-2].weight.mul_(20)
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return model, datamodule


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("distributed_metrics")
    overrides, metrics = setting(root)
    model, datamodule = model_and_data(overrides, root)
    return {
        "root": root,
        "overrides": overrides,
        "metrics": metrics,
        "model": model,
        "datamodule": datamodule,
        "expected": compute_metrics(model, datamodule, metrics),
    }


def assert_same_results(results: dict, expected: dict) -> None:
    """Equal, not close: every image is processed in the same batch as in one process."""
    for key in (*COUNTS, *COMPARED):
        assert results[key] == expected[key], key


def test_shards_are_whole_batches_covering_every_item_once_in_order() -> None:
    for n, world, batch_size in ((45, 2, 8), (27, 4, 1), (8, 8, 1), (10, 3, 3), (33, 2, 8)):
        shares = [shard(n, rank, world, batch_size) for rank in range(world)]
        assert [i for share in shares for i in share] == list(range(n))
        assert all(share.start % batch_size == 0 for share in shares)
        batches = [-(-len(share) // batch_size) for share in shares]
        assert max(batches) - min(batches) <= 1


def test_prior_codes_are_torch_fidelitys_batched_draws() -> None:
    """torch-fidelity draws z batch by batch from one NumPy stream; drawn at once, the rows
    are the same."""
    import numpy as np
    from torch_fidelity.registry import NOISE_SOURCE_REGISTRY

    rng = np.random.RandomState(7)
    batches = [NOISE_SOURCE_REGISTRY["normal"](rng, (n, 5)) for n in (8, 8, 3)]
    assert torch.equal(prior_codes(19, 5, 7), torch.cat(batches))


def test_one_process_gives_pagan_evaluates_numbers(one_process: dict) -> None:
    evaluate = DistributedMetrics(one_process["metrics"])
    first = evaluate(one_process["model"], one_process["datamodule"])
    assert_same_results(first, one_process["expected"])
    assert evaluate._real is not None  # the training images' features are kept ...
    again = evaluate(one_process["model"], one_process["datamodule"])
    assert again == first  # ... and give the same numbers


def test_fewer_images_than_processes_is_refused_by_name(one_process: dict, monkeypatch) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.num_test: 27 images for 32 processes"):
        DistributedMetrics(one_process["metrics"]).check_counts(32)  # before any work
    monkeypatch.setattr("pagan_lightning.metrics.distributed.process_group", lambda: (0, 34))
    with pytest.raises(ConfigError, match=r"metrics\.num_real: 33 images for 34 processes"):
        DistributedMetrics(one_process["metrics"])(one_process["model"], one_process["datamodule"])


def rank_process(rank: int, spec: dict) -> None:
    """One gloo rank: the same model, its share of the metrics; results to rank<r>.json."""
    torch.set_num_threads(spec["threads"])  # the one-process numbers' (summation order)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{spec['port']}", rank=rank, world_size=2
    )
    try:
        model, datamodule = model_and_data(spec["overrides"], spec["root"])
        if rank == 1:  # as after DDP steps on other data without buffer broadcasts
            for name, buffer in model.named_buffers():
                if name.endswith("running_mean"):
                    buffer.add_(0.5)
        if spec["rank_zero_buffers"]:
            use_rank_zero_buffers(model)
        results = DistributedMetrics(spec["metrics"])(model, datamodule)
        (spec["root"] / f"rank{rank}.json").write_text(json.dumps(results))
    finally:
        dist.destroy_process_group()


def run_two_ranks(one_process: dict, rank_zero_buffers: bool) -> list[dict]:
    """Each rank's results; rank 1's BatchNorm statistics differ from rank 0's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = {k: one_process[k] for k in ("root", "overrides", "metrics")}
    spec |= {"port": port, "rank_zero_buffers": rank_zero_buffers}
    spec["threads"] = torch.get_num_threads()
    ranks = mp.start_processes(rank_process, (spec,), nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + 180
    while not ranks.join(timeout=1):
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail("the ranks still ran after 180 s: a collective hangs")
    return [json.loads((one_process["root"] / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_two_processes_give_pagan_evaluates_numbers(one_process: dict) -> None:
    """The fidelity callback's path: rank 0's buffers, each rank its share, rows gathered."""
    for results in run_two_ranks(one_process, rank_zero_buffers=True):
        assert_same_results(results, one_process["expected"])


def test_without_rank_zero_buffers_the_numbers_would_differ(one_process: dict) -> None:
    """The check above can fail: rank 1's own statistics change its share of the images."""
    rank0, rank1 = run_two_ranks(one_process, rank_zero_buffers=False)
    assert rank0 == rank1  # every rank still gets the same (gathered) numbers ...
    assert rank0["fid"] != pytest.approx(one_process["expected"]["fid"], rel=1e-3)
    assert rank0["rid"] != pytest.approx(one_process["expected"]["rid"], rel=1e-3)


def test_missing_weights_stop_the_run_before_training(tmp_path: Path) -> None:
    """The callback's feature extractor is resolved when fitting starts: a missing classifier
    is one line before any step, not an error at the first validation."""
    data = tmp_path / "data"
    write_mnist_like(data / "FashionMNIST" / "raw", n_train=256, n_test=64)
    run = tmp_path / "run"
    out = cli(
        [
            console_script("pagan-train"),
            *synthetic_training(data),
            "callbacks=fidelity",
            f"callbacks.fidelity_metrics.metrics.classifier_weights={tmp_path / 'none.pt'}",
            "trainer.max_steps=2",
            f"hydra.run.dir={run}",
        ],
        timeout=300,
    )
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: classifier weights") and "none.pt not found" in last, last
    assert not list(run.glob("checkpoints/*.ckpt"))
