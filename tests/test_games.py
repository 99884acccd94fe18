"""Games: each plays under its own objective and penalty or the shared ones; a game added
through config trains and is guarded like the built-in ones."""

from pathlib import Path

import pytest
import torch
from torch import Tensor

from pagan_lightning import algorithm
from pagan_lightning.games import ImageGame
from pagan_lightning.objectives import NonSaturatingGAN
from pagan_lightning.runtime.configs import instantiate_model
from pagan_lightning.runtime.errors import ConfigError, NonFiniteLossError
from tests.helpers.configs import TINY, compose_train, quiet_trainer
from tests.helpers.faults import poison


class Constant:
    """An objective whose losses are a fixed number plus 0 x the outputs (so they have a
    graph), to tell which game used it."""

    def __init__(self, value: float) -> None:
        self.value = value

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return self.value + 0 * (real.sum() + fake.sum())

    def generator_loss(self, fake: Tensor) -> Tensor:
        return self.value + 0 * fake.sum()


def constant_penalty(critic, real, fake) -> Tensor:
    return torch.tensor(3.0)


def test_each_game_uses_its_own_objective_and_penalty_or_the_shared_one(tiny_model) -> None:
    tiny_model.games()["pair"].objective = Constant(7.0)
    tiny_model.games()["z"].gradient_penalty = constant_penalty
    tiny_model.eval()  # spectral norm's power iteration stays put: passes can be repeated
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    samples = algorithm.draw_samples(tiny_model, x)
    losses, total, _ = algorithm.discriminator_losses(tiny_model, samples)
    assert losses["d_pair"].item() == 7.0
    assert losses["gp_z"].item() == 3.0 and "gp_x" not in losses and "gp_pair" not in losses
    shared = NonSaturatingGAN()
    with torch.no_grad():
        x_out, fake_out = tiny_model.disc_x(torch.cat([x, samples.x_prior])).float().chunk(2)
    assert torch.allclose(losses["d_x"], shared.discriminator_loss(x_out, fake_out))
    assert torch.allclose(total, losses["d_x"] + losses["d_z"] + 7.0)

    generator, _ = algorithm.generator_losses(tiny_model, samples)
    g_x = shared.generator_loss(tiny_model.disc_x(samples.x_prior).float())
    g_z = shared.generator_loss(tiny_model.disc_z(samples.z_hat).float())
    assert torch.allclose(generator["g"], g_x + 7.0) and torch.allclose(generator["e"], g_z + 7.0)


def test_game_objectives_from_config_reach_their_game_only(tmp_path: Path) -> None:
    cfg = compose_train(
        [*TINY, "+model.game_objectives.pair._target_=pagan_lightning.objectives.WassersteinGAN"],
        tmp_path,
    )
    model = instantiate_model(cfg)
    assert type(model.games()["pair"].objective).__name__ == "WassersteinGAN"
    assert model.games()["x"].objective is None and model.games()["z"].objective is None
    assert isinstance(model.objective, NonSaturatingGAN)
    with pytest.raises(
        ConfigError, match=r"model.game_objectives.pear: no game 'pear'.*x, z, pair"
    ):
        instantiate_model(
            compose_train(
                [*TINY, "+model.game_objectives.pear._target_=pagan_lightning.objectives.FGAN"],
                tmp_path,
            )
        )


EXTRA = [
    "+model.extra_games.x_rec._target_=tests.test_games.RecGame",
    "+model.extra_games.x_rec.critic._target_=pagan_lightning.nets.Discriminator",
    "+model.extra_games.x_rec.critic.channels=1",
    "+model.extra_games.x_rec.critic.image_size=32",
    "+model.extra_games.x_rec.critic.ch=16",
]


class RecGame(ImageGame):
    """A fourth game, defined in a test: D on x vs x_rec."""

    def fake(self, s):
        return (s.x_rec,)


def extra_model(tmp_path: Path):
    return instantiate_model(compose_train([*TINY, *EXTRA], tmp_path))


def test_an_extra_game_trains_its_critic_and_is_logged(tmp_path: Path) -> None:
    model = extra_model(tmp_path)
    assert list(model.games()) == ["x", "z", "pair", "x_rec"]
    critic = model.games()["x_rec"].critic
    assert any(name.startswith("extra_games.x_rec.critic.") for name in model.state_dict())
    before = [p.clone() for p in critic.parameters()]
    data = torch.utils.data.DataLoader(torch.rand(32, 1, 32, 32) * 2 - 1, batch_size=8)
    trainer = quiet_trainer(tmp_path, max_steps=2)
    trainer.fit(model, data)
    assert {"train/d_x_rec", "train/d_pair"} <= set(trainer.callback_metrics)
    assert any(not torch.equal(b, p) for b, p in zip(before, critic.parameters(), strict=True))


def test_a_non_finite_loss_of_an_extra_game_is_named(tmp_path: Path) -> None:
    model = extra_model(tmp_path)
    poison(model.extra_games["x_rec"], "critic", after_calls=2)  # step 0: its real and fake pass
    data = torch.utils.data.DataLoader(torch.rand(32, 1, 32, 32) * 2 - 1, batch_size=8)
    with pytest.raises(NonFiniteLossError, match=r"discriminator loss d_x_rec at generator step 1"):
        quiet_trainer(tmp_path, max_steps=3).fit(model, data)


def test_extra_games_must_be_games_with_new_names(tmp_path: Path) -> None:
    not_a_game = [*TINY, "+model.extra_games.w._target_=pagan_lightning.objectives.FGAN"]
    with pytest.raises(ConfigError, match=r"extra_games.w: FGAN is not a pagan_lightning.games"):
        instantiate_model(compose_train(not_a_game, tmp_path))
    renamed = [e.replace("x_rec", "pair") for e in EXTRA]
    with pytest.raises(ConfigError, match=r"extra_games.pair: 'pair' is a built-in game's name"):
        instantiate_model(compose_train([*TINY, *renamed], tmp_path))
