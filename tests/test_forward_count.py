"""Each training batch runs the fewest network passes that Algorithm 1 needs, counted in the
images (or latents) each network's forward and backward passes see."""

from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.module import PAGAN
from tests.helpers.configs import quiet_trainer

NETWORKS = ("generator", "encoder", "disc_x", "disc_z", "disc_pair", "augmenter")
CRITICS = ("disc_x", "disc_z", "disc_pair")
BATCH = 8


def count_rows(model: PAGAN, tmp_path: Path, steps: int) -> tuple[Counter, Counter]:
    """Rows through each network's forward passes, and through each critic's backward
    passes (the rows of the gradient that reaches its output)."""
    forward, backward = Counter(), Counter()
    for name in NETWORKS:
        getattr(model, name).register_forward_pre_hook(
            lambda m, args, name=name: forward.update({name: len(args[0])})
        )
    for name in CRITICS:
        getattr(model, name).register_full_backward_pre_hook(
            lambda m, grad_output, name=name: backward.update({name: len(grad_output[0])})
        )
    data = DataLoader(TensorDataset(torch.rand(64, 1, 32, 32) * 2 - 1), batch_size=BATCH)
    quiet_trainer(tmp_path, max_steps=steps).fit(model, data)
    return forward, backward


@pytest.mark.parametrize(
    ("order", "critic_rows", "critic_backward_rows"),
    [("simultaneous", 2, 3), ("alternating", 3, 3)],
)
def test_one_generator_step_runs_each_network_the_minimum_times(
    order: str, critic_rows: int, critic_backward_rows: int, tiny_model: PAGAN, tmp_path: Path
) -> None:
    """With n_dis=1, per batch of B images:

    - E on B: z_hat ~ q(z|x);
    - G on 2B: x_prior = G(z) and x_rec = G(z_hat) (separate passes, so that x_prior and its
      BatchNorm statistics do not depend on E);
    - a on B: the real pair (x, a(x));
    - D_x, D_z, D_xx forward on 2B each in the simultaneous order (the real batch, and the
      fakes, whose output serves both L_d and L_g / L_e, Algorithm 1), on 3B in the
      alternating one (the fakes again, against the updated discriminator);
    - their backward passes on 3B in both: 2B for L_d, the fakes' B for L_g / L_e (in the
      simultaneous order the generator's pass does not go back through the real batch).
    """
    tiny_model.hparams.update_order = order
    steps = 3
    expected = {"generator": 2, "encoder": 1, "augmenter": 1}
    expected |= dict.fromkeys(CRITICS, critic_rows)
    forward, backward = count_rows(tiny_model, tmp_path, steps)
    assert forward == {name: steps * n * BATCH for name, n in expected.items()}
    assert backward == dict.fromkeys(CRITICS, steps * critic_backward_rows * BATCH)


def test_discriminator_only_batches_skip_the_g_e_pass(tiny_model: PAGAN, tmp_path: Path) -> None:
    """With n_dis=2 (alternating) a generator step spans 2 batches; the batch without a G/E
    update runs each discriminator on 2B (the real batch and the fakes) and back."""
    tiny_model.hparams.update_order = "alternating"
    tiny_model.hparams.n_dis = 2
    forward, backward = count_rows(tiny_model, tmp_path, steps=2)  # batches 0..2, G/E on 0, 2
    assert forward == {
        "generator": 3 * 2 * BATCH,
        "encoder": 3 * BATCH,
        "augmenter": 3 * BATCH,
        **dict.fromkeys(CRITICS, (3 * 2 + 2) * BATCH),
    }
    assert backward == dict.fromkeys(CRITICS, (3 * 2 + 2) * BATCH)
