"""The adversarial games of PAGAN: which inputs a critic compares, and with which objective.

A :class:`Game` owns a critic and says what its real and fake inputs are, given the draws of
one batch (:class:`Samples`); its objective and gradient penalty
default to the model's shared ones. PAGAN plays :class:`ImageGame` (eq. 5),
:class:`LatentGame` (eq. 6) and :class:`PairGame` (eq. 11); a new game (a fourth
discriminator) subclasses :class:`Game` and is added with ``model.extra_games.<name>``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from pagan_lightning.runtime.specs import Rebuildable

Inputs = tuple[Tensor, ...]


@dataclass(frozen=True)
class Samples:
    """The draws of one batch: data x, prior code z, posterior code z_hat, x_prior = G(z) and
    x_rec = G(z_hat)."""

    x: Tensor
    z: Tensor
    z_hat: Tensor
    x_prior: Tensor
    x_rec: Tensor


class Game(Rebuildable, nn.Module):
    """A critic, the real and fake inputs it compares, and the objective of its game.

    ``real(samples, augmenter)`` and ``fake(samples)`` return the critic's inputs as a tuple
    (one tensor per argument of the critic); the fakes keep their graph, so that the
    generator term of the game trains G and E. ``players`` names the losses (``g`` for L_g,
    ``e`` for L_e) that the game's generator term is logged in.

    Args:
        critic: the discriminator network; one output per sample.
        objective: an :class:`~pagan_lightning.objectives.Objective`, or ``None`` for the
            model's shared one.
        gradient_penalty: ``(critic, real, fake) -> loss``, or ``None`` for the model's shared
            one.
    """

    players: tuple[str, ...] = ("g", "e")

    def __init__(
        self,
        critic: nn.Module,
        objective: Any = None,
        gradient_penalty: Callable[..., Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.critic = critic
        self.objective = objective
        self.gradient_penalty = gradient_penalty

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.critic(*inputs)

    def real(self, s: Samples, augmenter: Callable[[Tensor], Tensor]) -> Inputs:
        raise NotImplementedError

    def fake(self, s: Samples) -> Inputs:
        raise NotImplementedError


class ImageGame(Game):
    """Generator matching, eq. (5): D_x on x vs x_prior = G(z)."""

    players = ("g",)

    def real(self, s: Samples, augmenter: Callable[[Tensor], Tensor]) -> Inputs:
        return (s.x,)

    def fake(self, s: Samples) -> Inputs:
        return (s.x_prior,)


class LatentGame(Game):
    """Encoder matching, eq. (6): D_z on z ~ p(z) vs z_hat ~ q(z|x)."""

    players = ("e",)

    def real(self, s: Samples, augmenter: Callable[[Tensor], Tensor]) -> Inputs:
        return (s.z,)

    def fake(self, s: Samples) -> Inputs:
        return (s.z_hat,)


class PairGame(Game):
    """Reconstruction matching, eq. (11): D_xx on (x, a(x)) vs (x, x_rec = G(z_hat))."""

    def real(self, s: Samples, augmenter: Callable[[Tensor], Tensor]) -> Inputs:
        return (s.x, augmenter(s.x))

    def fake(self, s: Samples) -> Inputs:
        return (s.x, s.x_rec)
