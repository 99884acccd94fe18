import math

import pytest
import torch

from pagan_lightning.objectives import NonSaturatingGAN


def test_losses_against_hand_computed_values() -> None:
    logits = torch.tensor([0.0, math.log(3.0)])  # D = sigmoid: 0.5 and 0.75
    d = NonSaturatingGAN.discriminator_loss(real=logits, fake=logits)
    expected_d = -(math.log(0.5) + math.log(0.75)) / 2 - (math.log(0.5) + math.log(0.25)) / 2
    assert d.item() == pytest.approx(expected_d, rel=1e-6)
    g = NonSaturatingGAN.generator_loss(logits)
    assert g.item() == pytest.approx(-(math.log(0.5) + math.log(0.75)) / 2, rel=1e-6)


def test_losses_are_stable_for_extreme_logits() -> None:
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(NonSaturatingGAN.discriminator_loss(big, big))
    assert torch.isfinite(NonSaturatingGAN.generator_loss(big))


def test_optimal_pair_discriminator_fixed_point() -> None:
    """Proposition 1 (eq. 12) and eq. (26) on a toy problem.

    Pairs t = (x, y) live on a 4 x 4 grid. Real pairs come from p*(x) r(y|x), fake pairs from
    p*(x) p(y|x). A tabular discriminator trained on samples with the PAGAN pair loss must reach
    D*(x, y) = r(y|x) / (r(y|x) + p(y|x)), and its value -L_d must reach
    -log 4 + 2 E_p*(x) JSD(r(.|x) || p(.|x)).
    """
    gen = torch.Generator().manual_seed(0)
    k, n = 4, 200_000
    p_x = torch.tensor([0.1, 0.2, 0.3, 0.4])
    r = torch.softmax(torch.randn(k, k, generator=gen), dim=1)  # augmentation r(y|x)
    p = torch.softmax(torch.randn(k, k, generator=gen), dim=1)  # reconstruction p(y|x)

    def draw(cond: torch.Tensor) -> torch.Tensor:
        x = torch.multinomial(p_x, n, replacement=True, generator=gen)
        y = torch.multinomial(cond[x], 1, generator=gen).squeeze(1)
        return x * k + y  # the pair's cell index

    real, fake = draw(r), draw(p)
    table = torch.zeros(k * k, requires_grad=True)  # one logit per pair (x, y)
    opt = torch.optim.LBFGS([table], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = NonSaturatingGAN.discriminator_loss(table[real], table[fake])
        loss.backward()
        return loss

    opt.step(closure)
    d_star = (r / (r + p)).flatten()
    assert torch.sigmoid(table.detach()) == pytest.approx(d_star, abs=0.02)

    m = (r + p) / 2
    jsd = 0.5 * (r * (r / m).log()).sum(1) + 0.5 * (p * (p / m).log()).sum(1)
    value = -NonSaturatingGAN.discriminator_loss(table[real], table[fake]).item()
    assert value == pytest.approx(-math.log(4) + 2 * (p_x * jsd).sum().item(), abs=0.01)
