"""The VAE baseline (Table 2): likelihood and KL terms, networks, learning, checkpoints."""

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.nets.resnet import ResNetDecoder, ResNetEncoder
from pagan_lightning.runtime.checkpoint import AtomicCheckpointIO, CheckpointError, load_module
from pagan_lightning.runtime.configs import instantiate_model
from pagan_lightning.vae import VAE, gaussian_nll, kl_to_standard_normal
from tests.helpers.configs import compose_train, quiet_trainer
from tests.helpers.files import blob_images, signed

VAE_TINY = [
    "model=vae",
    "model.encoder.ch=32",
    "model.generator.ch=32",
    "model.encoder.latent_dim=8",
]


def test_elbo_terms_match_torch_distributions() -> None:
    x, mean = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    log_scale = torch.tensor(-0.7)
    expected = -Normal(mean, log_scale.exp()).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(gaussian_nll(x, mean, log_scale), expected)
    mu, sigma = torch.randn(3, 5), torch.rand(3, 5) + 0.1
    expected = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(kl_to_standard_normal(mu, sigma), expected)


@pytest.mark.parametrize(("size", "channels"), [(32, 1), (64, 3)])
def test_resnet_shapes(size: int, channels: int) -> None:
    encoder = ResNetEncoder(latent_dim=16, channels=channels, image_size=size, ch=32)
    decoder = ResNetDecoder(latent_dim=16, channels=channels, image_size=size, ch=32)
    mu, sigma = encoder(torch.randn(2, channels, size, size))
    assert mu.shape == sigma.shape == (2, 16) and (sigma > 0).all()
    x = decoder(encoder.rsample(mu, sigma))
    assert x.shape == (2, channels, size, size) and x.abs().max() <= 1


def test_unsupported_size_is_named() -> None:
    with pytest.raises(ValueError, match="image_size=28"):
        ResNetEncoder(image_size=28)


def test_vae_learns_to_reconstruct_held_out_images(tmp_path: Path) -> None:
    """After 300 steps on 16x16 rectangles the reconstruction of unseen images is much closer to
    them than at initialisation and than another image's reconstruction is."""
    pl.seed_everything(0)
    train, held_out = signed(blob_images(1024, 16, seed=0)), signed(blob_images(128, 16, seed=1))
    cfg = compose_train([*VAE_TINY, "data.image_size=16"], tmp_path)
    model = instantiate_model(cfg)
    before = F.mse_loss(model.reconstruct(held_out), held_out).item()
    quiet_trainer(tmp_path, max_steps=300).fit(
        model, DataLoader(TensorDataset(train), batch_size=32, shuffle=True)
    )
    x_rec = model.reconstruct(held_out)
    after = F.mse_loss(x_rec, held_out).item()
    mismatched = F.mse_loss(x_rec, held_out.roll(1, dims=0)).item()
    assert after < 0.5 * before, (before, after)
    assert after < 0.8 * mismatched, (after, mismatched)


def test_vae_checkpoint_loads_as_a_vae(tmp_path: Path) -> None:
    model = instantiate_model(compose_train(VAE_TINY, tmp_path))
    trainer = quiet_trainer(tmp_path, max_steps=1, plugins=[AtomicCheckpointIO()])
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "vae.ckpt")
    loaded = load_module(tmp_path / "vae.ckpt")
    assert isinstance(loaded, VAE)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.reconstruct(x), model.reconstruct(x))
    # hyper-parameters the class does not take: one line naming them, nothing built
    foreign = torch.load(tmp_path / "vae.ckpt", weights_only=True)
    foreign["hyper_parameters"]["augmenter"] = {"_target_": "pagan_lightning.augment.Identity"}
    torch.save(foreign, tmp_path / "foreign.ckpt")
    with pytest.raises(CheckpointError, match="augmenter"):
        load_module(tmp_path / "foreign.ckpt")
