"""Algorithm 1 of the paper for one batch, as pure functions of the networks and the batch.

:class:`~pagan_lightning.module.PAGAN` (the Lightning side: optimizer steps, the non-finite
guard, logging) and the plain loop of :mod:`pagan_lightning.cli.bench` both call these, so the
work of a training step is written once:

1. :func:`draw_samples`: z ~ p(z), z_hat ~ q(z|x), x_prior = G(z), x_rec = G(z_hat);
2. :func:`discriminator_losses`: the three games, D_x on x vs x_prior (eq. 5), D_z on z vs
   z_hat (eq. 6), D_xx on (x, a(x)) vs (x, x_rec) (eq. 11), samples detached;
3. :func:`generator_losses`: L_g and L_e of Algorithm 1 against the (updated) discriminators.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from pagan_lightning.nets.encoder import Encoder
from pagan_lightning.objectives import Objective


class Parts(Protocol):
    """What one batch of Algorithm 1 needs of a model (a :class:`PAGAN` has all of it)."""

    generator: nn.Module
    encoder: Encoder
    augmenter: Callable[[Tensor], Tensor]
    objective: Objective
    reconstruction: Callable[[Tensor, Tensor], Tensor] | None
    gradient_penalty: Callable[..., Tensor] | None

    def games(self) -> dict[str, nn.Module]: ...

    def draw_prior(self, n: int) -> Tensor: ...


@dataclass(frozen=True)
class Samples:
    """The draws of one batch: data x, prior code z, posterior code z_hat, x_prior = G(z) and
    x_rec = G(z_hat)."""

    x: Tensor
    z: Tensor
    z_hat: Tensor
    x_prior: Tensor
    x_rec: Tensor


def draw_samples(parts: Parts, x: Tensor) -> Samples:
    """Two generator passes, so that x_prior (BatchNorm statistics included) does not depend
    on the encoder. Graphs are kept as the caller's grad mode says (only when G and E are
    updated on this batch)."""
    z = parts.draw_prior(x.shape[0])
    z_hat = parts.encoder.rsample(*parts.encoder(x))
    return Samples(x, z, z_hat, parts.generator(z), parts.generator(z_hat))


def discriminator_losses(parts: Parts, s: Samples) -> tuple[dict[str, Tensor], Tensor]:
    """The loss of each game's discriminator, samples detached; real and fake go through each
    network in one pass. Returns ``d_<game>`` (gradient penalty included) and ``gp_<game>``
    by name, and their sum to minimise."""
    real = {"x": (s.x,), "z": (s.z,)}
    fake = {"x": (s.x_prior.detach(),), "z": (s.z_hat.detach(),)}
    games = parts.games()
    if "pair" in games:  # eq. (11): (x, a(x)) vs (x, G(E(x)))
        real["pair"], fake["pair"] = (s.x, parts.augmenter(s.x)), (s.x, s.x_rec.detach())
    losses = {}
    for name, critic in games.items():
        both = [torch.cat([r, f]) for r, f in zip(real[name], fake[name], strict=True)]
        real_out, fake_out = critic(*both).float().chunk(2)
        losses[f"d_{name}"] = parts.objective.discriminator_loss(real_out, fake_out)
        if parts.gradient_penalty is not None:
            penalty = parts.gradient_penalty(critic, real[name], fake[name])
            losses[f"gp_{name}"] = penalty
            losses[f"d_{name}"] = losses[f"d_{name}"] + penalty
    return losses, sum(losses[f"d_{name}"] for name in games)


def generator_losses(parts: Parts, s: Samples) -> tuple[dict[str, Tensor], Tensor]:
    """L_g (``g``) and L_e (``e``) of Algorithm 1 (and ``rec``, PAGAN-L1's pixel term), and
    the one loss whose gradient is both: d(g_x + g_z + shared)/d theta = dL_g/d theta and
    .../d phi = dL_e/d phi, since x_prior does not depend on phi and z_hat not on theta."""
    games = parts.games()
    g_x = parts.objective.generator_loss(games["x"](s.x_prior).float())
    g_z = parts.objective.generator_loss(games["z"](s.z_hat).float())
    shared = torch.zeros((), device=s.x.device)  # the terms in both L_g and L_e
    losses = {}
    if "pair" in games:
        shared = shared + parts.objective.generator_loss(games["pair"](s.x, s.x_rec).float())
    if parts.reconstruction is not None:
        losses["rec"] = parts.reconstruction(s.x, s.x_rec)
        shared = shared + losses["rec"]
    losses = {"g": g_x + shared, "e": g_z + shared, **losses}
    return losses, g_x + g_z + shared
