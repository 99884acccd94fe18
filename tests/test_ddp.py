"""The GAN step under DDP: 2 CPU processes (gloo) with the strategy of ``conf/trainer/ddp.yaml``.

Each process is started with ``torch.multiprocessing`` and builds its own model: Lightning then
finds the ranks in the environment and launches nothing (``ddp_spawn`` cannot pickle the
spectral-norm parametrizations to its workers; the ``ddp`` launcher would re-run pytest).
"""

import copy
import csv
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.metrics import Classifier, save_classifier
from pagan_lightning.module import PAGAN
from pagan_lightning.runtime.checkpoint import load_checkpoint
from pagan_lightning.runtime.configs import instantiate_model
from tests.helpers.configs import (
    TINY,
    compose_train,
    console_script,
    importing_tests,
    offline,
    quiet_trainer,
    run_cli,
)
from tests.helpers.faults import poison

B = 4  # per-rank batch
HANG_S = 180  # a 2-rank fit here takes ~10 s


class SaveWeights(pl.Callback):
    """Each rank writes its state dict to ``<dirpath>/rank<r>.pt`` when training ends."""

    def __init__(self, dirpath: Path) -> None:
        self.dirpath = dirpath

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        torch.save(state, self.dirpath / f"rank{trainer.global_rank}.pt")


class GlobalNoise:
    """Noise drawn once for the global batch; each process takes the rows of its own samples.

    Rank r trains on the samples r, r + world, r + 2 world, ... of the dataset, so rows
    ``r::world`` pair every sample with the same noise as in the single-process run."""

    def __init__(self, noise: torch.Tensor) -> None:
        self.noise = noise

    def rows(self, n: int) -> torch.Tensor:
        rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        rows = self.noise[rank::world]
        assert len(rows) == n
        return rows


class FixedPrior(GlobalNoise):
    def __call__(self, n: int) -> torch.Tensor:
        return self.rows(n)


class FixedPosteriorNoise(GlobalNoise):
    def __call__(self, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return mu + sigma * self.rows(len(mu))


def images(n: int) -> torch.Tensor:
    return torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1


def without_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm layer of ``module`` by the identity, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            without_batchnorm(child)


# the check of one step against the global batch: see its test
COMPARABLE = [
    *TINY,
    "model/augmenter=identity",
    "model.optimizer_g._target_=torch.optim.SGD",
    "model.optimizer_d._target_=torch.optim.SGD",
    "~model.optimizer_g.betas",
    "~model.optimizer_d.betas",
    "model.optimizer_g.lr=0.1",
    "model.optimizer_d.lr=0.1",
]


def build(overrides: list[str], tmp_path: Path, noise: tuple | None) -> PAGAN:
    """The model of ``overrides`` from seed 0; with ``noise`` (z, eps of the global batch) its
    draws are fixed and the generator has no BatchNorm."""
    torch.manual_seed(0)
    model = instantiate_model(compose_train(overrides, tmp_path))
    if noise is not None:
        without_batchnorm(model.generator)
        model.draw_prior = FixedPrior(noise[0])
        model.encoder.rsample = FixedPosteriorNoise(noise[1])
    return model


def rank_process(rank: int, spec: dict) -> None:
    """One DDP rank on CPU: environment variables as torchrun sets them, then fit."""
    os.environ |= {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(spec["port"]),
        "WORLD_SIZE": "2",
        "NODE_RANK": "0",
        "LOCAL_RANK": str(rank),
    }
    torch.set_num_threads(1)
    tmp_path = spec["tmp_path"]
    model = build(spec["overrides"], tmp_path, spec["noise"])
    if rank == spec.get("nan_rank"):  # D_x outputs NaN from step 1 on, on this rank only
        poison(model, "disc_x", after_calls=2)  # from step 1 (a step: its real and fake pass)
    cfg = compose_train(["trainer=ddp"], tmp_path)
    trainer = quiet_trainer(
        tmp_path,
        strategy=instantiate(cfg.trainer.strategy),
        devices=2,
        max_steps=spec["steps"],
        callbacks=[SaveWeights(tmp_path)],
        use_distributed_sampler=False,  # this rank's samples: rank, rank + 2, rank + 4, ...
    )
    data = DataLoader(TensorDataset(images(spec["n_images"])[rank::2]), batch_size=B)
    trainer.fit(model, data)


def fit_ddp(tmp_path: Path, overrides: list[str], steps: int, n_images: int, **options):
    """Fit on 2 ranks; returns the state dicts of rank 0 and rank 1 at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = {
        "tmp_path": tmp_path,
        "overrides": overrides,
        "steps": steps,
        "n_images": n_images,
        "noise": options.get("noise"),
        "nan_rank": options.get("nan_rank"),
        "port": port,
    }
    ranks = mp.start_processes(rank_process, (spec,), nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + HANG_S
    while not ranks.join(timeout=1):
        if time.monotonic() > deadline:  # mismatched collectives wait forever
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"the DDP ranks still ran after {HANG_S} s: a collective hangs")
    return [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]


def synced_keys(state: dict[str, torch.Tensor]) -> list[str]:
    """Entries that DDP keeps equal across ranks: all but BatchNorm's running statistics."""
    return [k for k in state if "running_" not in k and "num_batches" not in k]


def test_ranks_hold_identical_weights(tmp_path: Path) -> None:
    """After 3 steps on different data per rank (generator BatchNorm on, Adam, each rank's own
    draws), both ranks hold the same parameters (gradients all-reduced) and the same
    spectral-norm vectors (power iteration on equal weights, and buffers broadcast from rank 0).
    BatchNorm running statistics are rank 0's at the start of each step, then each rank's own
    update of it; checkpoints and images come from rank 0."""
    rank0, rank1 = fit_ddp(tmp_path, TINY, steps=3, n_images=6 * B)
    synced = synced_keys(rank0)
    assert any(k.endswith("._u") for k in synced)
    for key in synced:
        assert torch.equal(rank0[key], rank1[key]), key


def test_a_non_finite_loss_on_one_rank_is_skipped_on_all(tmp_path: Path) -> None:
    """The finite check is reduced across ranks: with NaN on rank 1 only, both ranks skip the
    same updates (a rank that skipped a backward alone would leave the other one waiting in
    the gradient all-reduce) and keep equal, finite weights."""
    overrides = [*TINY, "model.on_non_finite=skip"]
    rank0, rank1 = fit_ddp(tmp_path, overrides, steps=3, n_images=6 * B, nan_rank=1)
    assert int(rank0["skipped_updates"]) == int(rank1["skipped_updates"]) == 4  # D, G/E x 2
    for key in synced_keys(rank0):
        assert torch.isfinite(rank0[key]).all() and torch.equal(rank0[key], rank1[key]), key


@pytest.mark.parametrize("order", ["simultaneous", "alternating"])
def test_one_ddp_step_equals_one_step_on_the_global_batch(order: str, tmp_path: Path) -> None:
    """One DDP step with batch B per rank on 2 ranks == one single-process step with batch 2B,
    in either update order (the simultaneous one averages its gradients outside DDP's reducer).

    Made comparable (``COMPARABLE``, ``build``): z and the posterior noise of the 2B samples are
    drawn once and each process takes the rows of its samples; the identity augmenter; SGD
    instead of Adam (Adam's first step is lr * g / (|g| + eps) ~ lr * sign(g), which turns
    rounding in near-zero gradients into parameter differences of order lr); no BatchNorm in
    the generator (per-rank batch statistics differ from global ones unless
    ``trainer.sync_batchnorm=true``, which torch implements for CUDA only). What remains is
    float32 rounding (a mean of two per-rank means against one mean, summed in another order):
    1e-6 absolute on parameters of size ~0.02-1 after an SGD step of lr=0.1.
    """
    noise = (torch.randn(2 * B, 8), torch.randn(2 * B, 8))  # latent_dim=8 in TINY
    comparable = [*COMPARABLE, f"model.update_order={order}"]
    single = build(comparable, tmp_path, noise)
    initial = copy.deepcopy(single.state_dict())
    data = DataLoader(TensorDataset(images(2 * B)), batch_size=2 * B)
    quiet_trainer(tmp_path, max_steps=1).fit(single, data)
    rank0, rank1 = fit_ddp(tmp_path, comparable, steps=1, n_images=2 * B, noise=noise)

    for name, value in single.state_dict().items():
        if name.endswith(("original", "weight", "bias")):  # the parameters
            assert not torch.equal(value, initial[name]), f"{name} not updated"
            assert torch.equal(rank0[name], rank1[name]), name
            torch.testing.assert_close(rank0[name], value, atol=1e-6, rtol=0)


SHORT = ["trainer.max_steps=1", "trainer.limit_val_batches=0", "callbacks.progress_bar=null"]


def pagan_train_ddp(args: list[str], cwd: Path, short: list[str] = SHORT, devices: int = 2) -> None:
    """``pagan-train trainer=ddp`` on ``devices`` CPU processes, run from ``cwd``."""
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", f"trainer.devices={devices}"]
    out = subprocess.run(
        [console_script("pagan-train"), *args, *ddp, *TINY, *short],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=importing_tests(),
    )
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


def test_a_ddp_run_writes_one_output_dir(fashion_dir: Path, tmp_path: Path) -> None:
    """Rank 1 is re-launched by Lightning with rank 0's ``hydra.run.dir``: one folder, one
    checkpoint, rank 0's grids; rank 1 adds only its log."""
    (tmp_path / "cwd").mkdir()
    pagan_train_ddp([*offline(fashion_dir), f"hydra.run.dir={tmp_path / 'run'}"], tmp_path / "cwd")
    assert list((tmp_path / "cwd").iterdir()) == []
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert (run / "config_resolved.yaml").exists()
    assert sorted(p.name for p in (run / "images").iterdir()) == [
        "reconstructions_000001.png",
        "samples_000001.png",
    ]
    assert sorted(p.name for p in run.glob("*.log")) == ["train.log", "train_ddp_process_1.log"]


def test_a_ddp_multirun_writes_one_output_dir_per_job(fashion_dir: Path, tmp_path: Path) -> None:
    """Each job of ``-m`` launches its own ranks (``compat.ddp_relaunches_this_job``)."""
    sweep = tmp_path / "sweep"
    args = ["-m", *offline(fashion_dir), "data.batch_size=8,16", f"hydra.sweep.dir={sweep}"]
    pagan_train_ddp(args, tmp_path)
    for job, batch_size in (("0", 8), ("1", 16)):
        assert (sweep / job / "checkpoints" / "last.ckpt").exists()
        assert (sweep / job / "train_ddp_process_1.log").exists()
        assert OmegaConf.load(sweep / job / "config_resolved.yaml").data.batch_size == batch_size
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "multirun.yaml"]


def test_validation_interval_counts_batches_across_epochs_under_ddp(
    fashion_dir: Path, tmp_path: Path
) -> None:
    """The README's `experiment=quickstart trainer=ddp ...` command: each rank sees half the
    batches of an epoch (here 6 of 16 images), fewer than val_check_interval; validation
    still runs every val_check_interval batches, counted across epochs (issue #12)."""
    run = tmp_path / "run"
    short = [
        "trainer.max_steps=9",
        "trainer.val_check_interval=8",
        "trainer.limit_val_batches=1",
        "trainer.log_every_n_steps=1",
        "callbacks.progress_bar=null",
    ]
    args = ["experiment=quickstart", *offline(fashion_dir), "data.batch_size=16"]
    args.append(f"hydra.run.dir={run}")
    pagan_train_ddp(args, tmp_path, short)
    with open(run / "csv" / "metrics.csv") as f:
        validated = [row["step"] for row in csv.DictReader(f) if row.get("val/rec_mse")]
    assert validated == ["7"]  # after the 8th batch, in the second epoch of 6 batches


def test_more_processes_than_cores_still_train(fashion_dir: Path, tmp_path: Path) -> None:
    """``trainer.devices=3`` on a 2-core machine (issue #12: an 87-frame traceback once):
    slower, but it trains and writes its checkpoint."""
    run = tmp_path / "run"
    pagan_train_ddp([*offline(fashion_dir), f"hydra.run.dir={run}"], tmp_path, devices=3)
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] > 0


def test_fidelity_metrics_under_ddp_equal_pagan_evaluate_on_one_process(
    fashion_dir: Path, tmp_path: Path
) -> None:
    """``callbacks=fidelity`` on 2 processes (each its share, rows gathered by torchmetrics;
    issue #11): the logged val/* of the last validation equal ``pagan-evaluate`` of the
    checkpoint on one process (the values are logged in float32). Counts that do not divide
    by 2 nor by the batch size. (That rank 0's buffers are the ones used is checked in
    ``test_distributed_metrics``: this tiny generator still draws a near-constant gray.)"""
    meta = {"dataset": "FashionMNIST", "image_size": 32, "classes": list("0123456789")}
    meta["test_accuracy"] = 0.2
    classifier = save_classifier(Classifier(), tmp_path / "clf.pt", meta)
    metrics = {
        "classifier_weights": classifier,
        "num_samples": 45,
        "num_real": 33,
        "num_test": 27,
        "kid": "true",
        "kid_subset_size": 20,
        "kid_subsets": 10,
        "splits": 5,
        "batch_size": 8,
    }
    run = tmp_path / "run"
    fidelity = [f"callbacks.fidelity_metrics.metrics.{k}={v}" for k, v in metrics.items()]
    short = [
        "trainer.max_steps=2",
        "trainer.val_check_interval=2",
        "trainer.limit_val_batches=1",
        "callbacks.progress_bar=null",
    ]
    args = [*offline(fashion_dir), "callbacks=fidelity", *fidelity, f"hydra.run.dir={run}"]
    pagan_train_ddp(args, tmp_path, short)
    with open(run / "csv" / "metrics.csv") as f:
        (logged,) = [row for row in csv.DictReader(f) if row.get("val/fid")]
    evaluated = tmp_path / "eval"
    run_cli(
        [
            console_script("pagan-evaluate"),
            f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
            "metrics.features=classifier",
            *[f"metrics.{k}={v}" for k, v in metrics.items()],
            f"metrics.cache_dir={tmp_path / 'cache'}",
            "figures.n_samples=4",
            "figures.n_reconstructions=2",
            "figures.n_interpolations=1",
            "figures.steps=3",
            f"hydra.run.dir={evaluated}",
        ]
    )
    expected = json.loads((evaluated / "metrics.json").read_text())
    assert expected["global_step"] == 2
    for name in ("fid", "is", "kid", "rid", "rmse_pixel", "l2_image"):
        assert float(logged[f"val/{name}"]) == pytest.approx(expected[name], rel=1e-5), name
