"""Bad input gets a clear error before any work: configs, checkpoints and image files."""

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from PIL import Image

from pagan_lightning.data import EpochSampler, ImageFolderDataModule, UnreadableImageError
from pagan_lightning.metrics import load_classifier
from pagan_lightning.runtime.checkpoint import (
    AtomicCheckpointIO,
    CheckpointError,
    load_checkpoint,
    load_module,
)
from pagan_lightning.runtime.configs import config_dir
from pagan_lightning.runtime.errors import ConfigError, UserError
from pagan_lightning.runtime.validate import check_config, check_evaluate
from tests.helpers.configs import (
    TINY,
    cli,
    compose_train,
    console_script,
    quiet_trainer,
    synthetic_training,
)
from tests.helpers.files import RunsCode

BAD_CONFIGS = [
    (["model.optimizer_g.lr=0"], "model.optimizer_g.lr=0 must be positive"),
    (["model.optimizer_d.lr=-1e-4"], "model.optimizer_d.lr=-0.0001 must be positive"),
    (["model.optimizer_d.lr=fast"], "model.optimizer_d.lr='fast' is not allowed; expected float"),
    (["data.batch_size=0"], "data.batch_size=0 must be positive"),
    (["data.num_workers=-1"], "data.num_workers=-1 must be 0 or more"),
    (["model.generator.latent_dim=-8"], "model.generator.latent_dim=-8 must be positive"),
    (["model.disc_z.hidden=[512,0]"], "model.disc_z.hidden=[512, 0] must be positive"),
    (["model.n_dis=2.5"], "model.n_dis=2.5 is not allowed; expected int"),
    (["model.n_dis=true"], "model.n_dis=True is not allowed; expected int"),
    (["data.image_size=big"], "data.image_size='big' is not allowed; expected int"),
    (
        ["model.disc_pair.mode=diagonal"],
        "model.disc_pair.mode='diagonal' is not allowed; expected 'width' | 'channel' | 'siamese'",
    ),
    (
        ["model.on_non_finite=ignore"],
        "model.on_non_finite='ignore' is not allowed; expected 'raise' | 'skip'",
    ),
    (["+model.generator.width=3"], "unknown key model.generator.width for"),
    (["+data.shuffle=false"], "unknown key data.shuffle for"),
    (["+seeed=1"], "unknown top-level key(s) seeed"),
    (
        ["model/lr_schedule=linear", "trainer.max_steps=-1"],
        "model.lr_schedule.total_iters=-1 must be positive",
    ),
    (["model.objective._target_=no.such.Loss"], "model.objective._target_='no.such.Loss'"),
    # issue #23: values that used to end in a traceback or pass silently
    (["seed=abc"], "seed='abc' must be an integer in [0, 2**32) or null"),
    (["seed=-1"], "seed=-1 must be an integer in [0, 2**32) or null"),
    (["model.optimizer_g.lr=nan"], "model.optimizer_g.lr=nan must be a finite number"),
    (["model.optimizer_g.betas=[2,3]"], "model.optimizer_g.betas=[2, 3] must be two numbers"),
    (["trainer.val_check_interval=0"], "trainer.val_check_interval=0 must be positive"),
    (["trainer.log_every_n_steps=0"], "trainer.log_every_n_steps=0 must be positive"),
    (["callbacks.image_grids.every_n_steps=0"], "image_grids.every_n_steps=0 must be positive"),
    (["callbacks.image_grids.n_samples=0"], "image_grids.n_samples=0 must be positive"),
    (
        ["callbacks.model_checkpoint.every_n_train_steps=-1"],
        "model_checkpoint.every_n_train_steps=-1 must be 0 or more",
    ),
    (["model.compile=yes"], "model.compile='yes' is not allowed; expected bool | dict"),
    (["model.update_order=sideways"], "expected 'simultaneous' | 'alternating'"),
    (["data.batch_size=1"], "data.batch_size=1: BatchNorm needs at least 2 images a batch"),
    (["data.channels=4"], "data.channels=4: images are read as grayscale (1) or RGB (3)"),
    (["trainer.devices=2"], "trainer.devices=2 needs a strategy that runs them: add trainer=ddp"),
    (["resume_changes=abc"], "resume_changes='abc' must be a list of keys"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_CONFIGS)
def test_bad_config_is_rejected_naming_the_key(overrides, message, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        check_config(compose_train(overrides, tmp_path))
    assert message in str(err.value)


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["experiment=quickstart"],
        ["variant=wgan_gp"],
        ["variant=f_gan", "model.objective.divergence=kl"],
        ["data=celeba"],
        ["trainer=ddp"],
        ["experiment=vae_quick"],
        ["callbacks=fidelity"],
    ],
)
def test_shipped_configs_pass(overrides, tmp_path: Path) -> None:
    check_config(compose_train(overrides, tmp_path))
    # and the same config with one value out of range does not
    with pytest.raises(ConfigError, match=r"data\.batch_size=0"):
        check_config(compose_train([*overrides, "data.batch_size=0"], tmp_path))


@pytest.mark.parametrize(
    ("override", "listed"), [("variant=pagan_l2", "wgan_gp"), ("data=svhn", "fashion_mnist")]
)
def test_unknown_variant_or_dataset_lists_the_options(override, listed, tmp_path: Path) -> None:
    with pytest.raises(MissingConfigException) as err:
        compose_train([override], tmp_path)
    assert f"Could not find '{override.replace('=', '/')}'" in str(err.value)
    assert listed in str(err.value)


def test_cli_reports_a_size_the_networks_cannot_take_before_any_work(tmp_path: Path) -> None:
    data = tmp_path / "no_data_needed"
    out = cli(
        [
            console_script("pagan-train"),
            *TINY,
            "data.image_size=28",
            f"paths.data_dir={data}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        timeout=300,
    )
    assert out.returncode != 0
    assert "image_size=28 is not supported by the DCGAN generator" in out.stderr
    assert "Traceback" not in out.stderr
    assert not data.exists()  # failed before touching (or downloading) any data


def test_resume_without_a_checkpoint_stops_instead_of_starting_afresh(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = cli(
        [console_script("pagan-train"), *TINY, "ckpt_path=last", f"hydra.run.dir={run}"],
        timeout=300,
    )
    assert out.returncode != 0
    assert f"ckpt_path=last: no {run / 'checkpoints' / 'last.ckpt'} to resume from" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (run / "config_resolved.yaml").exists()  # nothing written, nothing trained


# ------------------------------------------------------------------ checkpoints and files
def test_checkpoint_that_would_run_code_is_refused(tmp_path: Path) -> None:
    evil, pwned = tmp_path / "evil.ckpt", tmp_path / "pwned"
    torch.save({"state_dict": {}, "pagan_lightning": {}, "x": RunsCode(pwned)}, evil)
    with pytest.raises(CheckpointError, match=r"refused to load .*weights_only=True"):
        load_checkpoint(evil)
    assert not pwned.exists()


def test_corrupt_foreign_and_missing_files(tiny_model, tmp_path: Path) -> None:
    trainer = quiet_trainer(tmp_path, max_steps=1, plugins=[AtomicCheckpointIO()])
    trainer.strategy.connect(tiny_model)
    good = tmp_path / "good.ckpt"
    trainer.save_checkpoint(good)
    assert load_checkpoint(good)["state_dict"].keys() == tiny_model.state_dict().keys()

    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="a corrupt or truncated one"):
        load_checkpoint(truncated)
    foreign = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(2, 3, 3, 3)}, foreign)
    with pytest.raises(CheckpointError, match="not a pagan-lightning checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.ckpt")


def test_load_module_refuses_classes_outside_the_trusted_packages(
    tiny_model, tmp_path: Path
) -> None:
    trainer = quiet_trainer(tmp_path, max_steps=1, plugins=[AtomicCheckpointIO()])
    trainer.strategy.connect(tiny_model)
    trainer.save_checkpoint(tmp_path / "good.ckpt")
    assert isinstance(load_module(tmp_path / "good.ckpt"), type(tiny_model))

    checkpoint = load_checkpoint(tmp_path / "good.ckpt")
    checkpoint["hyper_parameters"]["augmenter"] = {"_target_": "os.system", "command": "touch x"}
    torch.save(checkpoint, tmp_path / "edited.ckpt")
    with pytest.raises(
        CheckpointError, match=r"augmenter._target_: refused .*os\.system.* outside"
    ):
        load_module(tmp_path / "edited.ckpt")


def test_resuming_with_other_network_sizes_names_the_mismatch(
    tiny_model, fashion_dir: Path, tmp_path: Path
) -> None:
    from pagan_lightning.runtime.configs import instantiate_model

    trainer = quiet_trainer(tmp_path, max_steps=1, plugins=[AtomicCheckpointIO()])
    trainer.strategy.connect(tiny_model)
    trainer.save_checkpoint(tmp_path / "tiny.ckpt")
    wider = instantiate_model(compose_train([*TINY, "model.generator.ch=64"], tmp_path))
    cfg = compose_train([*TINY, f"paths.data_dir={fashion_dir}", "data.val_size=56"], tmp_path)
    from hydra.utils import instantiate

    datamodule = instantiate(cfg.data, system_dir=None, download=False)
    trainer = quiet_trainer(tmp_path, max_steps=2, plugins=[AtomicCheckpointIO()])
    with pytest.raises(
        CheckpointError, match=r"do not fit this model .*generator\.stem\.0\.weight"
    ):
        trainer.fit(wider, datamodule=datamodule, ckpt_path=tmp_path / "tiny.ckpt")


def test_atomic_save_keeps_the_old_file_when_a_write_fails(tmp_path: Path) -> None:
    class FailingIO(AtomicCheckpointIO):
        def write(self, checkpoint, tmp):
            tmp.write_bytes(b"half a checkpoint")
            raise KeyboardInterrupt

    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, path)
    with pytest.raises(KeyboardInterrupt):
        FailingIO().save_checkpoint({"step": 2}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


# ------------------------------------------------------------------ data
def write_folder(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")


@pytest.fixture
def folder_with_bad_images(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = tmp_path / "imgs"
    write_folder(root / "things", 10)
    not_an_image = root / "things" / "notes.png"
    not_an_image.write_bytes(b"this is not a png")
    truncated = root / "things" / "truncated.png"
    truncated.write_bytes((root / "things" / "0.png").read_bytes()[:60])
    return root, [not_an_image, truncated]


def test_unreadable_image_is_reported_with_its_path(folder_with_bad_images) -> None:
    root, bad = folder_with_bad_images
    dm = ImageFolderDataModule(
        data_dir=str(root), image_size=8, val_size=2, batch_size=4, download=False
    )
    dm.setup()
    dataset = dm.train_set.dataset  # the full folder behind the train / val split
    index = [path for path, _ in dataset.samples].index(str(bad[0]))
    with pytest.raises(UnreadableImageError, match=f"unreadable image {bad[0]}: .*on_bad_image"):
        dataset[index]


def test_skip_mode_leaves_out_unreadable_images_with_a_count(folder_with_bad_images) -> None:
    root, bad = folder_with_bad_images
    dm = ImageFolderDataModule(
        data_dir=str(root), image_size=8, val_size=2, batch_size=4, on_bad_image="skip"
    )
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable image\(s\)"):
        dm.setup()
    assert sorted(dm.skipped[str(root)]) == sorted(map(str, bad))
    assert len(dm.train_set) + len(dm.val_set) == 10
    assert all(x.shape == (4, 3, 8, 8) for x, _ in dm.train_dataloader())


def test_epoch_order_is_seeded_and_resumable() -> None:
    sampler = EpochSampler(10, seed=3)
    sampler.set_epoch(2)
    order = list(sampler)
    assert sorted(order) == list(range(10)) and order == list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) != order
    sampler.set_epoch(2)
    sampler.start = 4  # a run resumed after 4 samples of epoch 2 goes on with the rest, once
    assert list(sampler) == order[4:] and list(sampler) == order
    shards = [EpochSampler(11, seed=3, num_replicas=2, rank=rank) for rank in (0, 1)]
    for shard in shards:
        shard.set_epoch(2)
    first, second = map(list, shards)
    assert len(first) == len(second) == 5 and not set(first) & set(second)  # one odd left out
    shards[1].start = 2
    assert list(shards[1]) == second[2:]


def test_a_batch_larger_than_the_training_set_stops_before_training(
    fashion_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    out = cli(
        [
            console_script("pagan-train"),
            *synthetic_training(fashion_dir),
            "data.batch_size=512",
            f"hydra.run.dir={run}",
        ],
        timeout=300,
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "error: data.batch_size=512 is larger than the training set of 200 images (256 minus "
        "data.val_size=56): no full batch to train on. Lower data.batch_size or data.val_size"
    )
    assert not (run / "checkpoints").exists()


def test_a_folder_or_a_plain_pickle_as_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"is a folder; give a \.ckpt file in it"):
        load_checkpoint(tmp_path)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"state_dict": {}}, protocol=4))  # not torch.save
    with pytest.raises(CheckpointError, match=r"not a torch\.save file .*Unsupported operand"):
        load_checkpoint(plain)


BAD_EVALUATE_CONFIGS = [
    (["+metrics.unknown=1"], "unknown key metrics.unknown for pagan_lightning.metrics."),
    (["metrics.num_samples=abc"], "metrics.num_samples='abc' is not allowed; expected int"),
    (["figures.n_samples=0"], "figures.n_samples=0 must be a positive integer"),
    (["figures.steps=0"], "figures.steps=0 must be a positive integer"),
    (["+foo=1"], "unknown top-level key(s) foo"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_EVALUATE_CONFIGS)
def test_bad_evaluate_config_is_rejected_naming_the_key(overrides, message, tmp_path) -> None:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        paths = [f"output_dir={tmp_path}", f"paths.output_dir={tmp_path}"]
        cfg = compose("evaluate", overrides=[*overrides, *paths])
    with pytest.raises(ConfigError) as err:
        check_evaluate(cfg)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "(0 bytes: EOFError)"), (b"hello\n", "is not a torch.save file")],
)
def test_empty_or_text_files_as_checkpoints_are_named(content, message, tmp_path) -> None:
    (tmp_path / "x.ckpt").write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(message)):
        load_checkpoint(tmp_path / "x.ckpt")


def test_a_checkpoint_as_classifier_weights_is_named(tiny_model, tmp_path: Path) -> None:
    trainer = quiet_trainer(tmp_path, max_steps=0)
    trainer.strategy.connect(tiny_model)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    with pytest.raises(UserError, match="is not a classifier weights file"):
        load_classifier(tmp_path / "model.ckpt")
