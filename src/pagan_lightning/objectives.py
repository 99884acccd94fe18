"""The adversarial games as pure loss functions of discriminator outputs, plus the
reconstruction and regularisation terms that the variants swap in.

Every game is an :class:`Objective`: ``discriminator_loss(real, fake)`` (minimised by the
discriminator or critic) and ``generator_loss(fake)`` (minimised by the generator and encoder),
where ``real`` and ``fake`` are the network's raw outputs ("logits", one per sample).
"""

import math
from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from pagan_lightning.runtime.specs import Rebuildable


class Objective(Protocol):
    """An adversarial game as two losses of discriminator outputs (a new game implements
    these two methods; ``model.objective._target_`` selects it)."""

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """Minimised by the discriminator, from its outputs on real and on fake inputs."""
        ...

    def generator_loss(self, fake: Tensor) -> Tensor:
        """Minimised by the generator and the encoder, from the outputs on fake inputs."""
        ...


class NonSaturatingGAN(Rebuildable):
    """The GAN game of eq. (1) with the non-saturating generator loss (Section 2, Algorithm 1).

    The discriminator probability is ``D = sigmoid(logit)``, so ``-log D = softplus(-logit)``
    and ``-log(1 - D) = softplus(logit)`` (numerically stable forms). Used by PAGAN for all
    three games: generator matching (eq. 5), encoder matching (eq. 6), reconstruction matching
    (eq. 11).
    """

    @staticmethod
    def discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
        """L_d = -mean log D(real) - mean log(1 - D(fake)); the negated value of eq. (1)."""
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    @staticmethod
    def generator_loss(fake: Tensor) -> Tensor:
        """L_g = -mean log D(fake), the non-saturating replacement of log(1 - D(fake))."""
        return F.softplus(-fake).mean()


class WassersteinGAN(Rebuildable):
    """The Kantorovich-Rubinstein dual game of eq. (37) (WPAGAN, Appendix B.2): the critic
    maximises E_real T - E_fake T, the generator maximises E_fake T. Use with
    :class:`GradientPenalty` for the Lipschitz constraint."""

    @staticmethod
    def discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    @staticmethod
    def generator_loss(fake: Tensor) -> Tensor:
        return -fake.mean()


class GradientPenalty(Rebuildable):
    """WGAN-GP penalty (Gulrajani et al.) ``weight * E (||grad T(x_tilde)|| - 1)^2`` on
    interpolations between real and fake inputs (Appendix C.1).

    A critic of several inputs (the pair critic T(x, y)) gets its inputs interpolated part by
    part with one alpha shared by all parts (eq. 38, the paper's default); the gradient norm
    is taken over all parts together. Eq. (39), one alpha per part, is not offered: the real
    and fake pairs of Algorithm 1, (x, a(x)) and (x, G(E(x))), share x, so the first part
    interpolates to x for any alpha and both choices draw the same x_tilde (the paper found
    "no differences in results"). The critic runs in fp32 here even under mixed precision.
    """

    def __init__(self, weight: float = 10.0) -> None:
        self.weight = weight

    def interpolate(self, real: tuple[Tensor, ...], fake: tuple[Tensor, ...]) -> list[Tensor]:
        """x_tilde = alpha x + (1 - alpha) x' per part, alpha ~ U[0, 1] per sample."""
        n = real[0].shape[0]
        alpha = torch.rand(n, device=real[0].device)
        return [
            alpha.view(n, *[1] * (r.dim() - 1)) * r.detach()
            + (1 - alpha.view(n, *[1] * (r.dim() - 1))) * f.detach()
            for r, f in zip(real, fake, strict=True)
        ]

    def __call__(
        self, critic: Callable[..., Tensor], real: tuple[Tensor, ...], fake: tuple[Tensor, ...]
    ) -> Tensor:
        mixed = [m.float().requires_grad_(True) for m in self.interpolate(real, fake)]
        with torch.autocast(device_type=mixed[0].device.type, enabled=False):
            out = critic(*mixed).float()
        grads = torch.autograd.grad(out.sum(), mixed, create_graph=True)
        norm = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads) + 1e-12)
        return self.weight * (norm - 1).pow(2).mean()


# f-GAN (Nowozin et al. 2016, Table 2): output activation g_f(v) and f*(g_f(v)) in stable form.
F_DIVERGENCES: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "kl": (lambda v: v, lambda v: torch.exp(v - 1)),
    "reverse_kl": (lambda v: -torch.exp(-v), lambda v: v - 1),
    "pearson": (lambda v: v, lambda v: v.pow(2) / 4 + v),
    "hellinger": (lambda v: 1 - torch.exp(-v), lambda v: torch.exp(v) - 1),
    "js": (
        lambda v: math.log(2.0) - F.softplus(-v),
        lambda v: F.softplus(v) - math.log(2.0),
    ),
    "gan": (lambda v: -F.softplus(-v), F.softplus),
}


class FGAN(Rebuildable):
    """The f-GAN value function of eq. (28) for one f-divergence (f-PAGAN, Appendix B.1):
    V = E_real T - E_fake f*(T) with T = g_f(v) the divergence's output activation. At the
    optimal critic T* = f'(p/q), V = D_f(p || q) (eq. 29). The generator maximises E_fake T
    (Nowozin et al.'s non-saturating choice).

    Args:
        divergence: one of ``kl``, ``reverse_kl``, ``pearson``, ``hellinger`` (squared
            Hellinger), ``js`` (Jensen-Shannon), ``gan`` (the GAN divergence 2 JSD - log 4).
    """

    def __init__(self, divergence: str = "gan") -> None:
        if divergence not in F_DIVERGENCES:
            choices = list(F_DIVERGENCES)
            raise ValueError(f"unknown divergence {divergence!r}; choose one of {choices}")
        self.divergence = divergence
        self.activation, self.conjugate_of_activation = F_DIVERGENCES[divergence]

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """-V of eq. (28)."""
        return self.conjugate_of_activation(fake).mean() - self.activation(real).mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -self.activation(fake).mean()


class L1Reconstruction(Rebuildable):
    """``weight * mean |x - G(E(x))|``: the pixel-wise reconstruction term of PAGAN-L1
    (Section 5, "Importance of adversarial loss"), replacing the pair game."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def __call__(self, x: Tensor, x_rec: Tensor) -> Tensor:
        return self.weight * (x - x_rec).abs().mean()
