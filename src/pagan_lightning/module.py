"""PAGAN as a LightningModule: Algorithm 1 of the paper with manual optimisation.

Networks, augmenter, objective and optimizers all come from config specs (``_target_``
mappings) so that a checkpoint holds plain hyper-parameters and ``PAGAN.load_from_checkpoint``
rebuilds the model with nothing else.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from pagan_lightning.nets.encoder import Encoder


def _uncounted(optimizer: Any, trainer: pl.Trainer) -> None:
    """Stop a LightningOptimizer's steps from advancing ``trainer.global_step``.

    Lightning counts every ``optimizer.step()`` of a manual-optimisation module in
    ``global_step`` (Lightning-AI/pytorch-lightning#17958), which would make ``max_steps``
    count discriminator and generator updates together. The discriminator optimizer keeps the
    profiler bracketing but not the count, so ``global_step`` == generator updates.
    """
    optimizer._on_before_step = lambda: trainer.profiler.start("optimizer_step")
    optimizer._on_after_step = lambda: trainer.profiler.stop("optimizer_step")


class PAGAN(pl.LightningModule):
    """Pairwise Augmented GAN: generator G, Gaussian encoder E and three discriminators.

    Per training batch x (Algorithm 1): z ~ p(z), z_hat ~ q(z|x), x_prior = G(z),
    x_rec = G(z_hat), x_aug = a(x); then

    - D_x plays x vs x_prior (generator matching, eq. 5),
    - D_z plays z vs z_hat (encoder matching, eq. 6),
    - D_xx plays the real pair (x, x_aug) vs the fake pair (x, x_rec) (eq. 11),

    and G, E minimise the non-saturating losses L_g and L_e. As in Algorithm 1, discriminator
    and generator/encoder gradients are taken at the same parameters from one forward pass of
    every network, then both optimizers step. With ``n_dis > 1`` the generator/encoder is
    updated on every ``n_dis``-th batch only; ``global_step`` counts generator updates.

    Args:
        generator, encoder, disc_x, disc_z, disc_pair, augmenter, objective: config specs
            (mappings with ``_target_``) of the parts.
        optimizer_g: partial optimizer spec for the generator and encoder parameters.
        optimizer_d: partial optimizer spec for the three discriminators.
        n_dis: discriminator updates per generator/encoder update.
    """

    def __init__(
        self,
        generator: Mapping,
        encoder: Mapping,
        disc_x: Mapping,
        disc_z: Mapping,
        disc_pair: Mapping,
        augmenter: Mapping,
        objective: Mapping,
        optimizer_g: Mapping,
        optimizer_d: Mapping,
        n_dis: int = 1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator: nn.Module = instantiate(generator)
        self.encoder: Encoder = instantiate(encoder)
        self.disc_x: nn.Module = instantiate(disc_x)
        self.disc_z: nn.Module = instantiate(disc_z)
        self.disc_pair: nn.Module = instantiate(disc_pair)
        self.augmenter: nn.Module = instantiate(augmenter)
        self.objective = instantiate(objective)
        self.latent_dim: int = self.encoder.latent_dim

    # ---------------------------------------------------------------- optimisation
    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.generator.parameters(), *self.encoder.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.disc_x.parameters(), *self.disc_z.parameters(), *self.disc_pair.parameters()]

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        make_g: Callable = instantiate(self.hparams.optimizer_g)
        make_d: Callable = instantiate(self.hparams.optimizer_d)
        return [make_g(self.generator_parameters()), make_d(self.discriminator_parameters())]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        opt_g, opt_d = self.optimizers()
        _uncounted(opt_d, self.trainer)
        update_g = batch_idx % self.hparams.n_dis == 0

        with torch.set_grad_enabled(update_g):
            z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
            z_hat = self.encoder.rsample(*self.encoder(x))
            # one generator pass: BatchNorm statistics shared by prior and posterior codes,
            # as they will be in eval mode, where G(z) and G(mu(x)) use the same running stats
            x_prior, x_rec = self.generator(torch.cat([z, z_hat])).chunk(2)
        x_aug = self.augmenter(x)

        # one forward of each discriminator on real and fake together (no batch statistics)
        real_x, fake_x = self.disc_x(torch.cat([x, x_prior])).chunk(2)
        real_z, fake_z = self.disc_z(torch.cat([z, z_hat])).chunk(2)
        real_xx, fake_xx = self.disc_pair(torch.cat([x, x]), torch.cat([x_aug, x_rec])).chunk(2)

        game = self.objective
        losses = {
            "d_x": game.discriminator_loss(real_x, fake_x),
            "d_z": game.discriminator_loss(real_z, fake_z),
            "d_pair": game.discriminator_loss(real_xx, fake_xx),
        }
        d_loss = losses["d_x"] + losses["d_z"] + losses["d_pair"]
        self.manual_backward(d_loss, inputs=self.discriminator_parameters(), retain_graph=update_g)

        if update_g:
            g_x, g_z, g_pair = (game.generator_loss(t) for t in (fake_x, fake_z, fake_xx))
            losses["g"] = g_x + g_pair  # L_g of Algorithm 1
            losses["e"] = g_z + g_pair  # L_e of Algorithm 1
            # d(g_x + g_z + g_pair)/d theta = dL_g/d theta and .../d phi = dL_e/d phi, since
            # x_prior does not depend on phi and z_hat does not depend on theta.
            self.manual_backward(g_x + g_z + g_pair, inputs=self.generator_parameters())

        opt_d.step()
        opt_d.zero_grad(set_to_none=True)
        if update_g:
            opt_g.step()
            opt_g.zero_grad(set_to_none=True)

        self.log_dict(
            {f"train/{k}": v.detach() for k, v in losses.items()}, prog_bar=True, on_step=True
        )

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """``val/rec_mse``: per-pixel squared error of G(mu(x)) against x, pixels in [-1, 1]."""
        x = batch[0] if isinstance(batch, list | tuple) else batch
        x_rec = self.generator(self.encoder(x)[0])
        self.log("val/rec_mse", F.mse_loss(x_rec, x), prog_bar=True)

    # ---------------------------------------------------------------- inference API
    @contextmanager
    def _inference(self) -> Iterator[None]:
        """Eval mode (BatchNorm running statistics) and no gradients; restores the mode after."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def sample(self, n: int, z: torch.Tensor | None = None) -> torch.Tensor:
        """x_prior = G(z), z ~ N(0, I) (or the given ``z``); images in [-1, 1]."""
        with self._inference():
            if z is None:
                z = torch.randn(n, self.latent_dim, device=self.device)
            return self.generator(z.to(self.device))

    def encode(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """The posterior mean mu(x), or a draw z_hat ~ q(z|x) with ``sample=True``."""
        with self._inference():
            mu, sigma = self.encoder(x.to(self.device))
            return self.encoder.rsample(mu, sigma) if sample else mu

    def reconstruct(self, x: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """x_rec = G(E(x)) from the posterior mean (or a posterior draw)."""
        return self.sample(len(x), self.encode(x, sample=sample))

    def interpolate(self, x1: torch.Tensor, x2: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decode ``steps`` points on the line between mu(x1) and mu(x2).

        Returns (steps, N, C, H, W) for batches x1, x2 of N images each.
        """
        z1, z2 = self.encode(x1), self.encode(x2)
        t = torch.linspace(0, 1, steps, device=self.device)[:, None, None]
        z = (1 - t) * z1 + t * z2
        return self.sample(0, z.flatten(0, 1)).unflatten(0, (steps, len(x1)))
