"""A tiny end-to-end learning check: PAGAN learns to reconstruct held-out images."""

import pytorch_lightning as pl
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.module import PAGAN
from tests.helpers.configs import quiet_trainer
from tests.helpers.files import blob_images, signed


def spec(target: str, **kwargs) -> dict:
    return {"_target_": target, **kwargs}


def tiny_pagan(latent: int = 8, size: int = 16) -> PAGAN:
    nets = "pagan_lightning.nets."
    image = {"channels": 1, "image_size": size}
    adam = spec("torch.optim.Adam", _partial_=True, lr=2e-4, betas=(0.5, 0.999))
    return PAGAN(
        generator=spec(nets + "Generator", latent_dim=latent, ch=64, **image),
        encoder=spec(nets + "Encoder", latent_dim=latent, ch=32, **image),
        disc_x=spec(nets + "Discriminator", ch=32, **image),
        disc_z=spec(nets + "LatentDiscriminator", latent_dim=latent, hidden=(64, 32)),
        disc_pair=spec(nets + "PairDiscriminator", mode="channel", ch=32, **image),
        augmenter=spec("pagan_lightning.augment.ReflectPadCrop", pad_fraction=0.1),
        objective=spec("pagan_lightning.objectives.NonSaturatingGAN"),
        optimizer_g=adam,
        optimizer_d=adam,
    )


def test_reconstruction_of_held_out_images_improves(tmp_path) -> None:
    """After a few hundred generator steps on 16x16 rectangles, G(mu(x)) of unseen images is
    closer to x than at initialisation, and closer to x than the reconstruction of another
    image is: the code carries the content of x, not just the data's average."""
    pl.seed_everything(0)
    train, held_out = signed(blob_images(2048, 16, seed=0)), signed(blob_images(128, 16, seed=1))
    model = tiny_pagan()

    def errors() -> tuple[float, float]:
        x_rec = model.reconstruct(held_out)
        matched = F.mse_loss(x_rec, held_out).item()
        mismatched = F.mse_loss(x_rec, held_out.roll(1, dims=0)).item()
        return matched, mismatched

    before, _ = errors()
    trainer = quiet_trainer(tmp_path, max_steps=600)
    trainer.fit(model, DataLoader(TensorDataset(train), batch_size=32, shuffle=True))
    after, mismatched = errors()
    assert after < 0.5 * before, (before, after)
    assert after < 0.8 * mismatched, (after, mismatched)
