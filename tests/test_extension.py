"""Extending PAGAN from a package outside this repository (``examples/my_pagan``, copied to a
temporary folder): its augmenters, pair discriminator, objective and fourth game train,
resume exactly, sweep, evaluate, probe and load, through the real console scripts."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from pagan_lightning import PAGAN, check_augmenter, load_module
from pagan_lightning.cli.collect import collect
from pagan_lightning.data import FashionMNISTDataModule
from pagan_lightning.nets import Discriminator, Encoder, Generator, LatentDiscriminator
from pagan_lightning.runtime.checkpoint import AtomicCheckpointIO, CheckpointError, load_checkpoint
from pagan_lightning.runtime.errors import ConfigError
from tests.helpers.configs import (
    cli,
    console_script,
    importing_tests,
    quiet_trainer,
    synthetic_training,
)
from tests.helpers.faults import kill_when, last_step, logged_losses
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "my_pagan"
STEPS = 9


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The example package copied outside the repository, synthetic data, and the environment
    of a user who put the package on the path (and this repository's tests, for the faults)."""
    root = tmp_path_factory.mktemp("user")
    shutil.copytree(EXAMPLE, root / "pkg", ignore=shutil.ignore_patterns("__pycache__"))
    write_mnist_like(root / "data" / "FashionMNIST" / "raw", n_train=256, n_test=64)
    env = importing_tests()
    env["PYTHONPATH"] = f"{root / 'pkg'}:{env['PYTHONPATH']}"
    return {"root": root, "data": root / "data", "env": env}


def train_cmd(user: dict, run: Path, *extra: str) -> list[str]:
    return [
        console_script("pagan-train"),
        "hydra.searchpath=[pkg://my_pagan.conf]",
        "experiment=my_pagan_four_games",
        *synthetic_training(user["data"]),
        "trainer.deterministic=true",
        "trainer.val_check_interval=3",
        "trainer.limit_val_batches=1",
        "trainer.log_every_n_steps=1",
        "callbacks.model_checkpoint.every_n_train_steps=3",
        "callbacks.image_grids.every_n_steps=100",
        f"trainer.max_steps={STEPS}",
        f"hydra.run.dir={run}",
        *extra,
    ]


def run(cmd: list[str], user: dict, ok: bool = True) -> subprocess.CompletedProcess:
    out = cli(cmd, timeout=600, env=user["env"], cwd=user["root"])
    assert (out.returncode == 0) == ok, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def trained(user: dict) -> Path:
    run_dir = user["root"] / "reference"
    run(train_cmd(user, run_dir), user)
    return run_dir


def test_user_parts_train_with_a_new_game_and_its_loss_name(trained: Path) -> None:
    hparams = load_checkpoint(trained / "checkpoints" / "last.ckpt")["hyper_parameters"]
    assert hparams["augmenter"]["_target_"] == "my_pagan.Cutout"
    assert hparams["disc_pair"]["_target_"] == "my_pagan.DifferencePairDiscriminator"
    assert "mode" not in hparams["disc_pair"]  # no experiment writes keys into a user's part
    assert hparams["game_objectives"] == {"pair": {"_target_": "my_pagan.HingeGAN"}}
    assert hparams["extra_games"]["x_rec"]["_target_"] == "my_pagan.ReconstructionGame"
    logged = logged_losses(trained)
    assert sorted(logged) == list(range(STEPS))
    assert {"train/d_x", "train/d_z", "train/d_pair", "train/d_x_rec"} <= set(logged[0])
    assert "trusted:\n- my_pagan\n" in (trained / "config_resolved.yaml").read_text()


def test_sigkill_then_resume_equals_the_uninterrupted_run(
    user: dict, trained: Path, tmp_path: Path
) -> None:
    run_dir, marker = tmp_path / "run", tmp_path / "stalled"
    stalling = (
        "trainer.plugins=[{_target_:tests.helpers.faults.StallingCheckpointIO,"
        f"stall_step:6,stall_name:last.ckpt,marker:'{marker}'}}]"
    )
    kill_when(train_cmd(user, run_dir, stalling), marker.exists, user["env"])
    assert last_step(run_dir) == 3
    run(train_cmd(user, run_dir, "ckpt_path=last"), user)
    assert logged_losses(run_dir) == logged_losses(trained)
    weights = [
        load_checkpoint(r / "checkpoints" / "last.ckpt")["state_dict"] for r in (run_dir, trained)
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[1])


def test_a_multirun_over_two_user_augmenters_then_collect(user: dict, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = train_cmd(user, tmp_path / "unused", "trainer.max_steps=2", f"hydra.sweep.dir={sweep}")
    cmd.insert(1, "-m")
    cmd.append("model/augmenter=cutout,noise")
    run(cmd, user)
    run([console_script("pagan-collect"), str(sweep)], user)
    rows = collect(sweep)
    augmenters = [
        load_checkpoint(sweep / str(i) / "checkpoints" / "last.ckpt")["hyper_parameters"][
            "augmenter"
        ]["_target_"]
        for i in range(2)
    ]
    assert augmenters == ["my_pagan.Cutout", "my_pagan.AdditiveNoise"]
    assert len(rows) == 2 and all(r["steps"] == "2" for r in rows)
    table = (sweep / "table.md").read_text()
    assert "model/augmenter=cutout" in table and "model/augmenter=noise" in table


def test_evaluate_and_probe_trust_what_the_run_recorded(
    user: dict, trained: Path, tmp_path: Path
) -> None:
    from pagan_lightning.metrics import Classifier, save_classifier

    meta = {"dataset": "FashionMNIST", "image_size": 32, "classes": list("0123456789")}
    classifier = save_classifier(Classifier(channels=1, num_classes=10), tmp_path / "c.pt", meta)
    out = tmp_path / "eval"
    evaluate = [
        console_script("pagan-evaluate"),
        f"ckpt_path={trained / 'checkpoints' / 'last.ckpt'}",
        "metrics.features=classifier",
        f"metrics.classifier_weights={classifier}",
        "metrics.num_samples=40",
        "metrics.num_real=40",
        "metrics.num_test=20",
        "metrics.kid_subset_size=20",
        "metrics.batch_size=20",
        f"metrics.cache_dir={tmp_path / 'cache'}",
        "figures.n_samples=16",
        "figures.n_reconstructions=8",
        "figures.n_interpolations=2",
        "figures.steps=5",
        f"hydra.run.dir={out}",
    ]
    run(evaluate, user)
    results = json.loads((out / "metrics.json").read_text())
    assert results["global_step"] == STEPS and {"fid", "rid", "aug_rid"} <= set(results)
    probe = [sys.executable, "-m", "pagan_lightning.cli.probe", "--system-dir", "/nonexistent"]
    probe += ["--data-dir", str(user["data"]), "--n-test", "40", "--ckpt"]
    table = run([*probe, str(trained / "checkpoints" / "last.ckpt")], user).stdout
    assert table.count("\n") == 3 and "last.ckpt" in table.splitlines()[2]

    # the same file outside its run folder: nothing recorded, so refused in one line ...
    alone = tmp_path / "alone.ckpt"
    shutil.copy(trained / "checkpoints" / "last.ckpt", alone)
    refused = run([*probe, str(alone)], user, ok=False).stderr.strip().splitlines()
    assert refused[-1].startswith("error: the checkpoint names an untrusted object")
    assert "'my_pagan." in refused[-1] and "trusted=[my_pagan]" in refused[-1]
    # ... unless the command trusts the package
    assert "alone.ckpt" in run([*probe, str(alone), "--trusted", "my_pagan"], user).stdout


def test_an_untrusted_class_is_refused_before_anything_runs(
    user: dict, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    evil = user["root"] / "pkg" / "my_pagan_evil.py"  # importable, and not trusted
    evil.write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).touch()\n"
        "class Touch:\n"
        f"    def __init__(self, **kwargs):\n        Path({str(marker)!r}).touch()\n"
    )
    monkeypatch.syspath_prepend(str(user["root"] / "pkg"))
    checkpoint = load_checkpoint(trained / "checkpoints" / "last.ckpt")
    checkpoint["hyper_parameters"]["augmenter"] = {"_target_": "my_pagan_evil.Touch"}
    torch.save(checkpoint, tmp_path / "edited.ckpt")
    with pytest.raises(CheckpointError, match=r"augmenter\._target_: refused .*my_pagan_evil"):
        load_module(tmp_path / "edited.ckpt", trusted=["my_pagan"])
    # pagan-train refuses a config that names a package it was not told to trust
    out = run([*train_cmd(user, tmp_path / "run"), "trusted=[]"], user, ok=False)
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith("error: model.augmenter._target_: refused to build 'my_pagan.Cutout'")
    )
    assert not (tmp_path / "run" / "checkpoints").exists() and not marker.exists()
    evil.unlink()


def test_a_broken_augmenter_is_refused_at_start(user: dict, tmp_path: Path) -> None:
    out = run(
        [
            *train_cmd(user, tmp_path / "run"),
            "trusted=[my_pagan,tests.helpers]",
            "model.augmenter._target_=tests.helpers.trusted_parts.OnePerBatch",
            "~model.augmenter.size_fraction",
        ],
        user,
        ok=False,
    )
    assert out.stderr.strip().splitlines()[-1] == (
        "error: augmenter OnePerBatch draws once per batch, not once per sample (copies of one "
        "image come back alike)"
    )
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.fixture
def my_pagan(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import my_pagan

    return my_pagan


def python_built(my_pagan) -> PAGAN:
    """PAGAN from built modules, as in Lightning's examples: no config, no ``_target_``."""
    return PAGAN(
        generator=Generator(latent_dim=8, channels=1, image_size=32, ch=32),
        encoder=Encoder(latent_dim=8, channels=1, image_size=32, ch=16),
        disc_x=Discriminator(channels=1, image_size=32, ch=16),
        disc_z=LatentDiscriminator(latent_dim=8, hidden=[32, 16]),
        disc_pair=my_pagan.DifferencePairDiscriminator(channels=1, image_size=32, ch=16),
        augmenter=my_pagan.Cutout(0.25),
        game_objectives={"pair": my_pagan.HingeGAN()},
    )


def fit(
    model: PAGAN, data: Path, tmp_path: Path, steps: int, ckpt_path: Path | None = None
) -> Path:
    """Train on the synthetic IDX files under ``data`` to ``steps`` with a checkpoint every 2
    steps (the project's datamodule, whose sampler resumes); the folder of the checkpoints."""
    datamodule = FashionMNISTDataModule(
        data_dir=data, system_dir=None, download=False, val_size=56, batch_size=16
    )
    every_2 = ModelCheckpoint(tmp_path, "{step}", every_n_train_steps=2, save_top_k=-1)
    trainer = quiet_trainer(
        tmp_path,
        max_steps=steps,
        plugins=[AtomicCheckpointIO()],
        deterministic=True,
        enable_checkpointing=True,
        callbacks=[every_2],
    )
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return tmp_path


def test_a_model_built_in_python_saves_loads_and_resumes_exactly(
    my_pagan, fashion_dir: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    run = fit(python_built(my_pagan), fashion_dir, tmp_path / "run", 4)
    whole, half = run / "step=4.ckpt", run / "step=2.ckpt"  # as if it had died after step 2
    resumed = fit(python_built(my_pagan), fashion_dir, tmp_path / "resumed", 4, half)
    expected, got = (load_checkpoint(p)["state_dict"] for p in (whole, resumed / "step=4.ckpt"))
    assert all(torch.equal(expected[k], got[k]) for k in expected)

    hparams = load_checkpoint(whole)["hyper_parameters"]
    assert hparams["generator"] == {
        "_target_": "pagan_lightning.nets.generator.Generator",
        "latent_dim": 8,
        "channels": 1,
        "image_size": 32,
        "ch": 32,
        "bottom_width": 4,
    }
    assert hparams["optimizer_g"]["_target_"] == "torch.optim.adam.Adam"
    model = load_module(whole, trusted=["my_pagan"])
    assert isinstance(model.disc_pair, my_pagan.DifferencePairDiscriminator)
    assert isinstance(model.games()["pair"].objective, my_pagan.HingeGAN)
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())


def test_a_part_that_records_no_arguments_is_passed_at_load(
    my_pagan, fashion_dir: Path, tmp_path: Path
) -> None:
    class Plain(torch.nn.Module):  # no Rebuildable: the checkpoint cannot rebuild it
        def forward(self, x):
            return x

    model = python_built(my_pagan)
    model = PAGAN(**{**dict(model.named_children()), "augmenter": Plain()})
    path = fit(model, fashion_dir, tmp_path, 2) / "step=2.ckpt"
    assert load_checkpoint(path)["hyper_parameters"]["augmenter"].startswith("unrecorded: ")
    with pytest.raises(ConfigError, match=r"augmenter: the checkpoint does not record how"):
        load_module(path, trusted=["my_pagan"])
    loaded = load_module(path, trusted=["my_pagan"], augmenter=Plain())
    assert isinstance(loaded.augmenter, Plain)


def test_example_augmenters_keep_the_contract(my_pagan) -> None:
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    for augmenter in (my_pagan.Cutout(), my_pagan.AdditiveNoise()):
        check_augmenter(augmenter, x)
        assert not torch.equal(augmenter(x), x), type(augmenter).__name__
