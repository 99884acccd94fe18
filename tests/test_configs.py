from pathlib import Path

import pytest
from hydra.utils import instantiate
from torch import nn
from torch.nn.utils import parametrize

from pagan_lightning.runtime.configs import config_dir, instantiate_model
from tests.helpers.configs import compose_train

EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))


def test_experiments_are_found_and_write_under_their_own_name(tmp_path: Path) -> None:
    assert {"quickstart", "mnist", "cifar10", "celeba"} <= set(EXPERIMENTS)
    for experiment in EXPERIMENTS:  # outputs/<task_name>/...: no two share a folder
        assert compose_train([f"experiment={experiment}"], tmp_path).task_name == experiment


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_builds(experiment: str, tmp_path: Path) -> None:
    cfg = compose_train([f"experiment={experiment}"], tmp_path)
    model = instantiate_model(cfg)
    datamodule = instantiate(cfg.data)
    image = (datamodule.channels, datamodule.image_size, datamodule.image_size)
    assert model.sample(2).shape == (2, *image)
    trainer = instantiate(cfg.trainer, accelerator="cpu")
    assert trainer.max_steps == cfg.trainer.max_steps


@pytest.mark.parametrize("experiment", ["mnist", "cifar10", "celeba"])
def test_paper_experiments_use_the_paper_settings(experiment: str, tmp_path: Path) -> None:
    cfg = compose_train([f"experiment={experiment}"], tmp_path)
    assert cfg.data.batch_size == 64 and cfg.trainer.max_steps == 100_000
    assert cfg.model.generator.latent_dim == 128 and cfg.model.n_dis == 1
    for net in ("generator", "encoder", "disc_x", "disc_pair"):
        assert cfg.model[net].ch == 512
    assert cfg.model.disc_pair.mode == "width"
    encoder = cfg.model.encoder  # the paper's: spectral norm and N(0, 0.02) weights
    assert encoder.use_spectral_norm and encoder.init == "normal" and encoder.init_sigma is None
    assert cfg.model.augmenter.pad_fraction == 0.1
    assert cfg.model.optimizer_g.lr == cfg.model.optimizer_d.lr == 2e-4


@pytest.mark.parametrize(("preset", "normalised"), [("paper", True), ("kaiming", False)])
def test_encoder_presets_build_the_encoder_they_name(
    preset: str, normalised: bool, tmp_path: Path
) -> None:
    cfg = compose_train(["experiment=quickstart", f"model/encoder={preset}"], tmp_path)
    encoder = instantiate_model(cfg).encoder
    layers = [m for m in encoder.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert all(parametrize.is_parametrized(m, "weight") == normalised for m in layers)
    first = layers[0].parametrizations.weight.original if normalised else layers[0].weight
    he_std = (2 / (1 + 0.2**2) / first[0].numel()) ** 0.5  # kaiming_normal_, LeakyReLU 0.2
    assert first.std().item() == pytest.approx(0.02 if normalised else he_std, rel=0.2)


def test_the_readme_throughput_switches_compose(tmp_path: Path) -> None:
    """README "Performance": `callbacks.progress_bar=null trainer.enable_progress_bar=false`."""
    overrides = ["callbacks.progress_bar=null", "trainer.enable_progress_bar=false"]
    cfg = compose_train(["experiment=quickstart", *overrides], tmp_path)
    trainer = instantiate(cfg.trainer, accelerator="cpu")
    assert trainer.progress_bar_callback is None


def test_disc_pair_is_a_group_that_no_experiment_or_variant_writes_into(tmp_path: Path) -> None:
    """A user's pair discriminator (here one without ``mode``) replaces D_xx whole, under the
    experiments and variants that choose channel-wise pairs."""
    user = [
        "model/disc_pair=channel",
        "model.disc_pair._target_=tests.test_configs.NoMode",
        "~model.disc_pair.mode",
    ]
    for extra in (["experiment=quickstart"], ["variant=wgan_gp"], []):
        cfg = compose_train([*extra, *user], tmp_path)
        assert "mode" not in cfg.model.disc_pair, extra
    assert compose_train(["experiment=quickstart"], tmp_path).model.disc_pair.mode == "channel"
    assert compose_train(["variant=wgan_gp"], tmp_path).model.disc_pair.mode == "channel"
    assert compose_train(["model/disc_pair=siamese"], tmp_path).model.disc_pair.mode == "siamese"


class NoMode:
    """A stand-in pair discriminator class without a ``mode`` argument."""
