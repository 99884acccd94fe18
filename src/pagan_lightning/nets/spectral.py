"""Spectral normalisation (Miyato et al. 2018) whose power iteration runs in fp32 under autocast.

Under mixed precision (``trainer.precision=bf16-mixed``) autocast would run the power
iteration's matrix-vector products in bf16, so that sigma(W), and with it every normalised
weight, carries bf16 rounding and the u, v estimates drift. Here the parametrization runs with
autocast off: W / sigma(W) is computed from the fp32 master weights, and only the layer's own
matmul or convolution uses the low precision.
"""

import torch
from torch import nn
from torch.nn.utils import parametrize

from pagan_lightning.runtime.compat import SpectralNormParametrization


class FP32SpectralNorm(SpectralNormParametrization):
    """torch's spectral-norm parametrization, evaluated outside autocast."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=weight.device.type, enabled=False):
            return super().forward(weight)


def spectral_norm(module: nn.Module, n_power_iterations: int = 1, eps: float = 1e-12) -> nn.Module:
    """Register :class:`FP32SpectralNorm` on ``module.weight`` (a Linear or Conv layer, whose
    output dimension is 0). Same state-dict keys as ``torch.nn.utils.parametrizations``."""
    spectral = FP32SpectralNorm(module.weight, n_power_iterations, dim=0, eps=eps)
    parametrize.register_parametrization(module, "weight", spectral)
    return module
