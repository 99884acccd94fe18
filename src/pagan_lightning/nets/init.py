"""Weight initialisation shared by every network (chainer-gan-lib: wscale = 0.02)."""

from torch import nn


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """Conv / linear weights from N(0, std^2), zero biases (as chainer-gan-lib does)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def init_kaiming_(module: nn.Module, negative_slope: float = 0.2) -> None:
    """Variance-preserving (He) init for LeakyReLU stacks, zero biases.

    Used for the encoder: after seven N(0, 0.02) layers its output is ~1e-6, so mu(x) would
    start drowned in the posterior noise sigma and carry no information about x.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, a=negative_slope, nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
