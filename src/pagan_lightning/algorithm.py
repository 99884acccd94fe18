"""Algorithm 1 of the paper for one batch, as pure functions of the networks and the batch.

:class:`~pagan_lightning.module.PAGAN` (the Lightning side: optimizer steps, the non-finite
guard, logging) and the plain loop of :mod:`pagan_lightning.cli.bench` both call these, so the
work of a training step is written once:

1. :func:`draw_samples`: z ~ p(z), z_hat ~ q(z|x), x_prior = G(z), x_rec = G(z_hat);
2. :func:`discriminator_losses`: the three games, D_x on x vs x_prior (eq. 5), D_z on z vs
   z_hat (eq. 6), D_xx on (x, a(x)) vs (x, x_rec) (eq. 11);
3. :func:`generator_losses`: L_g and L_e of Algorithm 1.

Two update orders (``PAGAN(update_order=...)``): ``simultaneous`` is Algorithm 1 as written,
every loss against the same discriminators: one pass of each critic over the (attached) fake
inputs serves both its loss and the generator's, then every network is updated.
``alternating`` detaches the fakes, updates the discriminators first, and computes L_g and L_e
against the updated ones (a second pass of each critic over the fakes), as in Lightning's GAN
example.

The games (:mod:`pagan_lightning.games`) say what each critic compares and with which objective.
"""

from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from pagan_lightning.games import Game, Samples
from pagan_lightning.nets.encoder import Encoder
from pagan_lightning.objectives import Objective


class Parts(Protocol):
    """What one batch of Algorithm 1 needs of a model (a :class:`PAGAN` has all of it)."""

    generator: nn.Module
    encoder: Encoder | None
    augmenter: Callable[[Tensor], Tensor]
    objective: Objective
    gradient_penalty: Callable[..., Tensor] | None
    reconstruction: Callable[[Tensor, Tensor], Tensor] | None

    def games(self) -> dict[str, Game]: ...

    def draw_prior(self, n: int) -> Tensor: ...


def objective_of(parts: Parts, game: Game) -> Objective:
    """The game's own objective, else the model's shared one."""
    return parts.objective if game.objective is None else game.objective


def penalty_of(parts: Parts, game: Game) -> Callable[..., Tensor] | None:
    """The game's own gradient penalty, else the model's shared one (or none)."""
    return parts.gradient_penalty if game.gradient_penalty is None else game.gradient_penalty


def draw_samples(parts: Parts, x: Tensor) -> Samples:
    """Two generator passes, so that x_prior (BatchNorm statistics included) does not depend
    on the encoder; without an encoder (a plain GAN) one, and no z_hat, x_rec. Graphs are kept
    as the caller's grad mode says (only when G and E are updated on this batch)."""
    z = parts.draw_prior(x.shape[0])
    if parts.encoder is None:
        return Samples(x, z, None, parts.generator(z), None)
    z_hat = parts.encoder.rsample(*parts.encoder(x))
    return Samples(x, z, z_hat, parts.generator(z), parts.generator(z_hat))


def discriminator_losses(
    parts: Parts, s: Samples, detach: bool = True
) -> tuple[dict[str, Tensor], Tensor, dict[str, Tensor]]:
    """The loss of each game's critic under the game's objective. Real and fake inputs go
    through each critic as two batches under one spectral normalisation of its weights
    (``parametrize.cached``), so that the backward pass of the generator's loss runs through
    the fake batch alone. Returns ``d_<game>`` (gradient penalty included) and ``gp_<game>`` by
    name, their sum to minimise, and each critic's output on the fakes by game name: with
    ``detach=False`` the fakes keep their graph, so those outputs also serve
    :func:`generator_losses` (the simultaneous order; the gradient penalty always sees
    detached fakes)."""
    games = parts.games()
    inputs = {  # every real input first: a(x) draws before any gradient penalty does
        name: (game.real(s, parts.augmenter), game.fake(s)) for name, game in games.items()
    }
    losses, fake_outputs = {}, {}
    for name, game in games.items():
        real, fake = inputs[name]
        detached = tuple(t.detach() for t in fake)
        with parametrize.cached():  # one sigma(W) (and power iteration) for both passes
            real_out = game(*real).float()
            fake_outputs[name] = game(*(detached if detach else fake)).float()
        objective = objective_of(parts, game)
        losses[f"d_{name}"] = objective.discriminator_loss(real_out, fake_outputs[name])
        penalty = penalty_of(parts, game)
        if penalty is not None:
            losses[f"gp_{name}"] = penalty(game.critic, real, detached)
            losses[f"d_{name}"] = losses[f"d_{name}"] + losses[f"gp_{name}"]
    return losses, sum(losses[f"d_{name}"] for name in games), fake_outputs


def generator_losses(
    parts: Parts, s: Samples, fake_outputs: dict[str, Tensor] | None = None
) -> tuple[dict[str, Tensor], Tensor]:
    """L_g (``g``) and L_e (``e``) of Algorithm 1 (and ``rec``, PAGAN-L1's pixel term), and
    the one loss whose gradient is both: the sum of every game's generator term (and ``rec``)
    once. Its gradient in theta is dL_g/d theta and in phi dL_e/d phi, since a game that is
    not in L_g (L_e) does not depend on theta (phi): x_prior not on phi, z_hat not on theta.
    The critics' outputs on the fakes come from ``fake_outputs`` (those of
    :func:`discriminator_losses` with ``detach=False``) or from a new pass of each critic."""
    games = parts.games()
    if fake_outputs is None:
        fake_outputs = {name: game(*game.fake(s)).float() for name, game in games.items()}
    terms = {
        name: objective_of(parts, game).generator_loss(fake_outputs[name])
        for name, game in games.items()
    }
    rec = parts.reconstruction(s.x, s.x_rec) if parts.reconstruction is not None else None
    zero = torch.zeros((), device=s.x.device)
    shared = zero if rec is None else zero + rec  # in both L_g and L_e

    def loss_of(player: str) -> Tensor:
        return sum((t for n, t in terms.items() if player in games[n].players), shared)

    losses = {"g": loss_of("g")}
    if parts.encoder is not None:
        losses["e"] = loss_of("e")
    if rec is not None:
        losses["rec"] = rec
    return losses, sum(terms.values(), shared)
