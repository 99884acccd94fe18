"""The adversarial games as pure loss functions of discriminator logits.

A discriminator returns a logit ``t``; its probability is ``D = sigmoid(t)``, so
``-log D = softplus(-t)`` and ``-log(1 - D) = softplus(t)`` (numerically stable forms).
"""

import torch
import torch.nn.functional as F


class NonSaturatingGAN:
    """The GAN game of eq. (1) with the non-saturating generator loss (Section 2, Algorithm 1).

    Used for all three PAGAN games: generator matching (eq. 5), encoder matching (eq. 6) and
    reconstruction matching (eq. 11).
    """

    @staticmethod
    def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """L_d = -mean log D(real) - mean log(1 - D(fake)); the negated value of eq. (1)."""
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    @staticmethod
    def generator_loss(fake: torch.Tensor) -> torch.Tensor:
        """L_g = -mean log D(fake), the non-saturating replacement of log(1 - D(fake))."""
        return F.softplus(-fake).mean()
