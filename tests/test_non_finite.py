"""A NaN or Inf loss stops training with a message naming the step and the game, or is
skipped and counted."""

from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.module import PAGAN
from pagan_lightning.runtime.errors import NonFiniteLossError
from tests.helpers.configs import quiet_trainer
from tests.helpers.faults import poison


def fit(model: PAGAN, tmp_path: Path, steps: int = 3):
    data = DataLoader(TensorDataset(torch.rand(32, 1, 32, 32) * 2 - 1), batch_size=8)
    trainer = quiet_trainer(tmp_path, max_steps=steps)
    trainer.fit(model, data)
    return trainer


@pytest.mark.parametrize(
    ("net", "game"),
    [("disc_x", "d_x"), ("disc_z", "d_z"), ("disc_pair", "d_pair")],
)
def test_nan_in_a_discriminator_game_stops_with_its_name(
    tiny_model: PAGAN, tmp_path: Path, net: str, game: str
) -> None:
    poison(tiny_model, net, after_calls=2)  # step 0 is clean (a critic's real and fake pass)
    with pytest.raises(NonFiniteLossError, match=rf"discriminator loss {game} at generator step 1"):
        fit(tiny_model, tmp_path)


def test_nan_in_the_generator_encoder_step_names_it(tiny_model: PAGAN, tmp_path: Path) -> None:
    poison(tiny_model, "encoder")  # z_hat is NaN: D_z and the pair game see it first
    with pytest.raises(NonFiniteLossError, match=r"d_z, d_pair at generator step 0"):
        fit(tiny_model, tmp_path)


def test_weights_stay_finite_and_updates_are_counted_in_skip_mode(
    tiny_model: PAGAN, tmp_path: Path
) -> None:
    tiny_model.hparams.on_non_finite = "skip"
    poison(tiny_model, "disc_x", after_calls=2)
    fit(tiny_model, tmp_path, steps=3)
    # from step 1 on every D_x output is NaN: the D and G/E updates of steps 1 and 2 skipped
    assert int(tiny_model.skipped_updates) == 4
    assert all(torch.isfinite(p).all() for p in tiny_model.parameters())


def test_mode_is_validated(tiny_model: PAGAN) -> None:
    spec = {k: v for k, v in tiny_model.hparams.items() if k != "on_non_finite"}
    with pytest.raises(ValueError, match="on_non_finite"):
        PAGAN(**spec, on_non_finite="ignore")


def test_the_last_good_checkpoint_is_kept(tiny_model: PAGAN, tmp_path: Path) -> None:
    poison(tiny_model, "disc_x", after_calls=4)  # steps 0 and 1 clean, step 2 not
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=1, save_last=True)
    data = DataLoader(TensorDataset(torch.rand(32, 1, 32, 32) * 2 - 1), batch_size=8)
    trainer = quiet_trainer(
        tmp_path, max_steps=4, enable_checkpointing=True, callbacks=[checkpoints]
    )
    with pytest.raises(NonFiniteLossError, match="at generator step 2"):
        trainer.fit(tiny_model, data)
    state = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 2
    assert all(
        torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point()
    )


def test_the_device_flag_is_read_every_check_finite_every_steps(
    tiny_model: PAGAN, tmp_path: Path
) -> None:
    """raise mode reads the on-device flag every check_finite_every generator steps: the NaN of
    step 1 is reported at step 4, naming step 1, long before max_steps."""
    tiny_model.hparams.check_finite_every = 4
    poison(tiny_model, "disc_x", after_calls=2)
    with pytest.raises(NonFiniteLossError, match=r"d_x at generator step 1 .* found at .* step 4"):
        fit(tiny_model, tmp_path, steps=4000)
