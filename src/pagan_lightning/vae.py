"""The VAE baseline of Table 2: ResNet-like encoder and decoder, Gaussian likelihood.

Trained by maximising the evidence lower bound

    ELBO(x) = E_q(z|x)[log N(x | G(z), sigma_x^2 I)] - KL(q(z|x) || N(0, I))

with one reparameterised draw z = mu + sigma * eps, the KL in closed form and one learned
observation scale sigma_x shared by all pixels. It has PAGAN's inference API (``sample``,
``encode``, ``reconstruct``, ``interpolate``) and logged names, so the image grids, the metrics
and ``pagan-evaluate`` treat it like PAGAN. Select it with ``model=vae``.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from pagan_lightning.data.base import images_of
from pagan_lightning.inference import LatentVariableModel
from pagan_lightning.runtime.checkpoint import ExactResume


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """-log N(x | mean, exp(log_scale)^2 I), summed over the pixels of each image: (N,)."""
    z = (x - mean) * torch.exp(-log_scale)
    per_pixel = 0.5 * z.square() + log_scale + 0.5 * math.log(2 * math.pi)
    return per_pixel.flatten(1).sum(1)


def kl_to_standard_normal(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2 I) || N(0, I)) in closed form, summed over the latent dims: (N,)."""
    return 0.5 * (mu.square() + sigma.square() - 1 - 2 * torch.log(sigma)).sum(1)


class VAE(ExactResume, LatentVariableModel, pl.LightningModule):
    """Variational auto-encoder with a Gaussian decoder p(x|z) = N(G(z), sigma_x^2 I).

    Args:
        encoder: spec of a Gaussian encoder (``forward -> (mu, sigma)``, ``rsample``).
        generator: spec of the decoder z -> mean image in [-1, 1] (named as PAGAN's
            generator, so both models share the inference API).
        optimizer: partial optimizer spec for all parameters.
        init_log_scale: initial log sigma_x (pixels in [-1, 1]).
    """

    def __init__(
        self,
        encoder: Mapping,
        generator: Mapping,
        optimizer: Mapping,
        init_log_scale: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder: nn.Module = instantiate(encoder)
        self.generator: nn.Module = instantiate(generator)
        self.log_scale = nn.Parameter(torch.tensor(float(init_log_scale)))
        self.latent_dim: int = self.encoder.latent_dim

    def configure_optimizers(self) -> torch.optim.Optimizer:
        make: Callable = instantiate(self.hparams.optimizer)
        return make(self.parameters())

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = images_of(batch)
        mu, sigma = self.encoder(x)
        x_rec = self.generator(self.encoder.rsample(mu, sigma))
        nll = gaussian_nll(x, x_rec, self.log_scale).mean()
        kl = kl_to_standard_normal(mu, sigma).mean()
        loss = nll + kl  # -ELBO per image
        self.log_dict(
            {
                "train/nll": nll,
                "train/kl": kl,
                "train/elbo": -loss,
                "train/log_scale": self.log_scale,
            },
            prog_bar=True,
        )
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """``val/rec_mse``: per-pixel squared error of G(mu(x)) against x, as for PAGAN."""
        x = images_of(batch)
        self.log("val/rec_mse", F.mse_loss(self.generator(self.encoder(x)[0]), x), prog_bar=True)
