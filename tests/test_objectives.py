import math

import pytest
import torch

from pagan_lightning.objectives import (
    FGAN,
    GradientPenalty,
    L1Reconstruction,
    NonSaturatingGAN,
    WassersteinGAN,
)


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


# ---------------------------------------------------------------- WPAGAN (Appendix B.2, C.1)
def test_wasserstein_losses_on_fixed_logits() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert WassersteinGAN.discriminator_loss(real, fake).item() == pytest.approx(-0.5 - 2.0)
    assert WassersteinGAN.generator_loss(fake).item() == pytest.approx(0.5)


class Linear(torch.nn.Module):
    """T(x, y) = <w, x> + <v, y>: a critic with a constant gradient (w, v)."""

    def __init__(self, w: torch.Tensor, v: torch.Tensor) -> None:
        super().__init__()
        self.w, self.v = w, v

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1) + (y * self.v).flatten(1).sum(1)


def test_gradient_penalty_zero_for_unit_gradient_positive_otherwise() -> None:
    w, v = torch.randn(3, 4, 4), torch.randn(3, 4, 4)
    scale = torch.sqrt(w.pow(2).sum() + v.pow(2).sum())  # joint norm over both parts
    real = (torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4))
    fake = (torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4))
    gp = GradientPenalty(weight=10.0)
    assert gp(Linear(w / scale, v / scale), real, fake).item() == pytest.approx(0.0, abs=1e-8)
    # gradient norm 2 everywhere: 10 * (2 - 1)^2
    assert gp(Linear(2 * w / scale, 2 * v / scale), real, fake).item() == pytest.approx(10.0)


def test_one_alpha_interpolates_both_parts_alike_eq_38() -> None:
    real = (torch.zeros(64, 1, 2, 2), torch.zeros(64, 1, 2, 2))
    fake = (torch.ones(64, 1, 2, 2), torch.ones(64, 1, 2, 2))
    x_t, y_t = GradientPenalty().interpolate(real, fake)
    assert torch.equal(x_t, y_t)  # (alpha x + (1 - alpha) x', alpha y + (1 - alpha) y')
    assert x_t.min() >= 0 and x_t.max() <= 1 and x_t.std() > 0.1
    assert torch.equal(x_t, x_t[:, :, :1, :1].expand_as(x_t))  # one alpha per sample


def test_pairs_that_share_x_interpolate_to_x_whatever_alpha() -> None:
    """Why eq. (39) is not offered: Algorithm 1's real and fake pairs share x, so the first
    part of x_tilde is x for any alpha, and one alpha per part would draw the same pairs."""
    x = torch.randn(16, 1, 4, 4)
    x_t, _ = GradientPenalty().interpolate((x, torch.randn_like(x)), (x, torch.randn_like(x)))
    torch.testing.assert_close(x_t, x)


def test_gradient_penalty_on_a_curved_critic() -> None:
    """T(x, y) = (|x|^2 + |y|^2) / 2 has gradient (x, y): the penalty must be taken at the
    interpolated points, with the norm over both parts."""
    real = (torch.randn(16, 2, 3, 3), torch.randn(16, 2, 3, 3))
    fake = (torch.randn(16, 2, 3, 3), torch.randn(16, 2, 3, 3))
    gp = GradientPenalty(weight=10.0)

    def critic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x.pow(2).flatten(1).sum(1) + y.pow(2).flatten(1).sum(1))

    torch.manual_seed(3)
    value = gp(critic, real, fake)
    torch.manual_seed(3)
    x_t, y_t = gp.interpolate(real, fake)
    norm = torch.sqrt(x_t.pow(2).flatten(1).sum(1) + y_t.pow(2).flatten(1).sum(1))
    assert value.item() == pytest.approx(10 * (norm - 1).pow(2).mean().item(), rel=1e-5)


# ---------------------------------------------------------------- f-PAGAN (Appendix B.1)
F_FUNCTIONS = {  # f(u) and the critic logit v* with g_f(v*) = T* = f'(u) (Nowozin et al.)
    "kl": (lambda u: u * u.log(), lambda u: 1 + u.log()),
    "reverse_kl": (lambda u: -u.log(), lambda u: u.log()),
    "pearson": (lambda u: (u - 1) ** 2, lambda u: 2 * (u - 1)),
    "hellinger": (lambda u: (u.sqrt() - 1) ** 2, lambda u: 0.5 * u.log()),
    "js": (lambda u: -(u + 1) * ((1 + u) / 2).log() + u * u.log(), lambda u: u.log()),
    "gan": (lambda u: u * u.log() - (u + 1) * (u + 1).log(), lambda u: u.log()),
}


@pytest.mark.parametrize("divergence", sorted(F_FUNCTIONS))
def test_f_gan_value_at_the_optimal_critic_is_the_f_divergence_eq_29(divergence: str) -> None:
    """Two discrete distributions on 4 points, in multiples of 1/20 so that sample means are
    exact expectations: with v* (T* = f'(p/q)), -L_d = V = D_f(p || q) = sum q f(p/q), and v*
    is a stationary point of L_d."""
    p = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.4, 0.1], dtype=torch.float64)
    real_cells = torch.repeat_interleave(torch.arange(4), (p * 20).round().long())
    fake_cells = torch.repeat_interleave(torch.arange(4), (q * 20).round().long())
    f, v_star = F_FUNCTIONS[divergence]
    logits = v_star(p / q).requires_grad_(True)
    game = FGAN(divergence)
    loss = game.discriminator_loss(logits[real_cells], logits[fake_cells])
    d_f = (q * f(p / q)).sum()
    assert -loss.item() == pytest.approx(d_f.item(), abs=1e-9)
    (grad,) = torch.autograd.grad(loss, logits)
    assert grad.abs().max().item() < 1e-9


def test_f_gan_gan_divergence_is_the_non_saturating_gan() -> None:
    real, fake = torch.randn(16), torch.randn(16)
    gan, ns = FGAN("gan"), NonSaturatingGAN
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(
        ns.discriminator_loss(real, fake).item(), abs=1e-6
    )
    assert gan.generator_loss(fake).item() == pytest.approx(ns.generator_loss(fake).item())


def test_unknown_divergence() -> None:
    with pytest.raises(ValueError, match="unknown divergence"):
        FGAN("wasserstein")


def test_l1_reconstruction() -> None:
    x, x_rec = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)
    assert L1Reconstruction(weight=2.0)(x, x_rec).item() == pytest.approx(1.0)
