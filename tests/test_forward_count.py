"""Each training batch runs the fewest network forwards that Algorithm 1 needs."""

from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.module import PAGAN
from tests.helpers.configs import quiet_trainer

NETWORKS = ("generator", "encoder", "disc_x", "disc_z", "disc_pair", "augmenter")


def count_forwards(model: PAGAN, tmp_path: Path, steps: int) -> Counter:
    calls: Counter = Counter()
    for name in NETWORKS:
        getattr(model, name).register_forward_pre_hook(lambda m, i, name=name: calls.update([name]))
    data = DataLoader(TensorDataset(torch.rand(64, 1, 32, 32) * 2 - 1), batch_size=8)
    quiet_trainer(tmp_path, max_steps=steps).fit(model, data)
    return calls


@pytest.mark.parametrize(("order", "critic_passes"), [("simultaneous", 1), ("alternating", 2)])
def test_one_generator_step_runs_each_network_the_minimum_times(
    order: str, critic_passes: int, tiny_model: PAGAN, tmp_path: Path
) -> None:
    """With n_dis=1, per batch:

    - E once: z_hat ~ q(z|x);
    - G twice: x_prior = G(z) and x_rec = G(z_hat) (separate passes, so that x_prior and its
      BatchNorm statistics do not depend on E);
    - a once: the real pair (x, a(x));
    - D_x, D_z, D_xx once each in the simultaneous order (one pass on cat(real, fake) serves
      L_d and L_g / L_e, Algorithm 1), twice in the alternating one (once in the discriminator
      step, once on the fakes against the updated discriminator).
    """
    tiny_model.hparams.update_order = order
    steps = 3
    expected = {"generator": 2, "encoder": 1, "augmenter": 1}
    expected |= {"disc_x": critic_passes, "disc_z": critic_passes, "disc_pair": critic_passes}
    assert count_forwards(tiny_model, tmp_path, steps) == {
        name: steps * n for name, n in expected.items()
    }


def test_discriminator_only_batches_skip_the_g_e_pass(tiny_model: PAGAN, tmp_path: Path) -> None:
    """With n_dis=2 (alternating) a generator step spans 2 batches; the batch without a G/E
    update runs each discriminator once (on cat(real, fake))."""
    tiny_model.hparams.update_order = "alternating"
    tiny_model.hparams.n_dis = 2
    calls = count_forwards(tiny_model, tmp_path, steps=2)  # batches 0..2, G/E on 0 and 2
    assert calls == {
        "generator": 3 * 2,
        "encoder": 3,
        "augmenter": 3,
        "disc_x": 3 + 2,
        "disc_z": 3 + 2,
        "disc_pair": 3 + 2,
    }
