import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from pagan_lightning.nets import (
    PAIR_MODES,
    Discriminator,
    Encoder,
    Generator,
    LatentDiscriminator,
    PairDiscriminator,
)


@pytest.mark.parametrize(("size", "stages"), [(32, 3), (64, 4)])
def test_generator_shapes_and_stages(size: int, stages: int) -> None:
    g = Generator(latent_dim=16, channels=3, image_size=size, ch=64)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, 3, size, size)
    assert x.abs().max() <= 1  # tanh output
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g.modules()) == stages


def test_generator_paper_width_halves_channels() -> None:
    g = Generator(latent_dim=128, channels=3, image_size=32, ch=512)
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in ups] == [(512, 256), (256, 128), (128, 64)]
    assert g.stem[0].out_features == 512 * 4 * 4
    assert isinstance(g.stem[1], nn.BatchNorm1d)


@pytest.mark.parametrize("size", [32, 64])
def test_discriminator_and_encoder_shapes(size: int) -> None:
    x = torch.randn(4, 3, size, size)
    assert Discriminator(3, size, ch=32)(x).shape == (4,)
    mu, sigma = Encoder(latent_dim=10, channels=3, image_size=size, ch=32)(x)
    assert mu.shape == sigma.shape == (4, 10)
    assert (sigma > 0).all()
    assert Encoder.rsample(mu, sigma).shape == (4, 10)


def test_28_pixel_images_are_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="image_size=28"):
        Generator(image_size=28)
    with pytest.raises(ValueError, match="28x28"):
        Discriminator(1, 28)
    with pytest.raises(ValueError, match="28x28"):
        Encoder(channels=1, image_size=28)


@pytest.mark.parametrize("mode", PAIR_MODES)
@pytest.mark.parametrize("size", [32, 64])
def test_pair_discriminator_modes(mode: str, size: int) -> None:
    d = PairDiscriminator(mode=mode, channels=3, image_size=size, ch=32)
    x, y = torch.randn(2, 3, 3, size, size)
    assert d(x, y).shape == (3,)


def test_width_pair_sees_a_double_width_image() -> None:
    d = PairDiscriminator(mode="width", channels=1, image_size=32, ch=32)
    seen = []
    d.body.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape))
    d(torch.randn(2, 1, 32, 32), torch.randn(2, 1, 32, 32))
    assert seen == [torch.Size([2, 1, 32, 64])]


def test_pair_mode_is_validated() -> None:
    with pytest.raises(ValueError, match="unknown pair mode"):
        PairDiscriminator(mode="diagonal")


@pytest.mark.parametrize(
    "net",
    [
        Discriminator(1, 32, ch=16),
        LatentDiscriminator(8, hidden=(16, 8)),
        PairDiscriminator("siamese", 1, 32, ch=16),
    ],
)
def test_every_discriminator_layer_is_spectrally_normalised(net: nn.Module) -> None:
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)


def test_spectral_norm_bounds_the_largest_singular_value() -> None:
    d = Discriminator(1, 32, ch=16)
    d.train()
    for _ in range(30):  # power iterations converge
        d(torch.randn(2, 1, 32, 32))
    w = d.head.weight  # the normalised weight
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_weights_start_from_n0_002() -> None:
    g = Generator(latent_dim=128, channels=3, image_size=32, ch=256)
    std = g.stem[0].weight.std().item()
    assert std == pytest.approx(0.02, rel=0.05)
