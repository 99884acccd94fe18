"""The inference API shared by the project's models: sample, encode, reconstruct, interpolate.

A model provides ``generator`` (z -> image in [-1, 1]), ``encoder`` (image -> ``(mu, sigma)``
of a Gaussian q(z|x), with ``rsample``) and ``latent_dim``; PAGAN and the VAE baseline both do,
so that callbacks, metrics and the evaluation command treat them alike.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytorch_lightning as pl
import torch


class LatentVariableModel:
    """LightningModule mixin: the inference API of a generator + Gaussian encoder pair."""

    generator: torch.nn.Module
    encoder: torch.nn.Module
    latent_dim: int

    @contextmanager
    def _inference(self: pl.LightningModule) -> Iterator[None]:
        """Eval mode (BatchNorm running statistics) and no gradients; restores the mode after."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    @property
    def can_reconstruct(self) -> bool:
        """Whether the model has an encoder (a plain GAN has none)."""
        return getattr(self, "encoder", None) is not None

    def draw_prior(self, n: int) -> torch.Tensor:
        """z ~ p(z) = N(0, I), ``n`` codes on this module's device."""
        return torch.randn(n, self.latent_dim, device=self.device)

    def sample(self, n: int, z: torch.Tensor | None = None) -> torch.Tensor:
        """x_prior = G(z), z ~ N(0, I) (or the given ``z``); images in [-1, 1]."""
        with self._inference():
            if z is None:
                z = self.draw_prior(n)
            return self.generator(z.to(self.device))

    def encode(
        self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The posterior mean mu(x), or a draw z_hat ~ q(z|x) with ``sample=True`` (its noise
        from ``generator``, else the global one)."""
        with self._inference():
            mu, sigma = self.encoder(x.to(self.device))
            if not sample:
                return mu
            noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            return mu + sigma * noise

    def reconstruct(
        self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """x_rec = G(E(x)) from the posterior mean (or a posterior draw, see :meth:`encode`)."""
        return self.sample(len(x), self.encode(x, sample=sample, generator=generator))

    def interpolate(self, x1: torch.Tensor, x2: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decode ``steps`` points on the line between mu(x1) and mu(x2).

        Returns (steps, N, C, H, W) for batches x1, x2 of N images each.
        """
        z1, z2 = self.encode(x1), self.encode(x2)
        t = torch.linspace(0, 1, steps, device=self.device)[:, None, None]
        z = (1 - t) * z1 + t * z2
        return self.sample(0, z.flatten(0, 1)).unflatten(0, (steps, len(x1)))
