"""Speed switches: bf16 mixed precision with fp32 spectral norm and losses, channels_last,
torch.compile of the networks."""

import copy
from pathlib import Path

import pytest
import torch
from torch.nn.utils.parametrizations import _SpectralNorm
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.module import PAGAN
from pagan_lightning.nets import Discriminator
from pagan_lightning.nets.spectral import FP32SpectralNorm
from tests.helpers.configs import quiet_trainer


def fit(model: PAGAN, tmp_path: Path, steps: int = 1, **kwargs) -> None:
    data = DataLoader(TensorDataset(torch.rand(16, 1, 32, 32) * 2 - 1), batch_size=8)
    quiet_trainer(tmp_path, max_steps=steps, **kwargs).fit(model, data)


def test_power_iteration_runs_outside_autocast(monkeypatch: pytest.MonkeyPatch) -> None:
    """sigma(W) and the u, v updates of every spectral-norm layer run with autocast off (on
    CUDA, autocast would turn their matrix-vector products into bf16 ones)."""
    autocast_seen = []
    torch_forward = _SpectralNorm.forward

    def spy(self, weight):
        autocast_seen.append(torch.is_autocast_enabled("cpu"))
        return torch_forward(self, weight)

    net = Discriminator(channels=1, image_size=16, ch=16)
    monkeypatch.setattr(_SpectralNorm, "forward", spy)
    layers = [m for m in net.modules() if isinstance(m, FP32SpectralNorm)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert net(torch.randn(2, 1, 16, 16)).dtype == torch.bfloat16
    assert len(autocast_seen) == len(layers) == 8 and not any(autocast_seen)
    assert all(m._u.dtype == m._v.dtype == torch.float32 for m in layers)


def test_bf16_mixed_step_keeps_fp32_weights_and_losses(tiny_model: PAGAN, tmp_path: Path) -> None:
    losses = []
    objective = tiny_model.objective

    class Spy:
        def discriminator_loss(self, real, fake):
            losses.append(objective.discriminator_loss(real, fake))
            return losses[-1]

        def generator_loss(self, fake):
            losses.append(objective.generator_loss(fake))
            return losses[-1]

    tiny_model.objective = Spy()
    fit(tiny_model, tmp_path, steps=2, precision="bf16-mixed")
    assert len(losses) == 12  # 3 discriminator and 3 generator-side losses per step
    assert all(loss.dtype == torch.float32 and torch.isfinite(loss) for loss in losses)
    assert all(p.dtype == torch.float32 for p in tiny_model.parameters())
    assert all(b.dtype != torch.bfloat16 for b in tiny_model.buffers())


def test_channels_last_changes_layout_not_results(tiny_model: PAGAN, tmp_path: Path) -> None:
    nhwc = copy.deepcopy(tiny_model)
    nhwc.hparams.channels_last = True
    nhwc.configure_model()
    conv = nhwc.disc_x.body.layers[0].parametrizations.weight.original
    assert conv.is_contiguous(memory_format=torch.channels_last) and conv.shape[-1] > 1
    z, x = torch.randn(4, tiny_model.latent_dim), torch.rand(4, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(nhwc.sample(4, z), tiny_model.sample(4, z))
    torch.testing.assert_close(nhwc.encode(x), tiny_model.encode(x))
    fit(nhwc, tmp_path)
    assert conv.is_contiguous(memory_format=torch.channels_last)


def test_compile_wraps_each_network_not_the_module(tiny_model: PAGAN, tmp_path: Path) -> None:
    """``model.compile`` takes torch.compile's arguments; the eager backend keeps the check fast
    on a CPU. Checkpoint keys stay those of the plain networks."""
    tiny_model.hparams.compile = {"backend": "eager"}
    keys = set(tiny_model.state_dict())
    fit(tiny_model, tmp_path)
    critics = [game.critic for game in tiny_model.games().values()]
    networks = [tiny_model.generator, tiny_model.encoder, *critics]
    assert all(net._compiled_call_impl is not None for net in networks)
    assert tiny_model._compiled_call_impl is None
    assert set(tiny_model.state_dict()) == keys
