import copy
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning import algorithm
from pagan_lightning.augment import Augmenter
from pagan_lightning.module import PAGAN
from pagan_lightning.nets import PAIR_MODES
from pagan_lightning.nets.pair import pair_match
from pagan_lightning.reporting.callbacks import ImageGrids
from pagan_lightning.runtime.configs import instantiate_model
from pagan_lightning.runtime.errors import ConfigError
from tests.helpers.configs import TINY, compose_train, quiet_trainer


class Flip(Augmenter):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1)


def loader(n: int = 64, batch: int = 8) -> DataLoader:
    """Random images; the loader has its own generator, so that starting an iteration (as
    every validation does) does not draw from the global one."""
    images = TensorDataset(torch.rand(n, 1, 32, 32) * 2 - 1)
    return DataLoader(images, batch_size=batch, generator=torch.Generator().manual_seed(0))


def fit(model: PAGAN, steps: int, tmp_path: Path, **kwargs) -> pl.Trainer:
    trainer = quiet_trainer(tmp_path, max_steps=steps, **kwargs)
    trainer.fit(model, loader())
    return trainer


def groups(model: PAGAN) -> dict[str, nn.Module]:
    names = ["generator", "encoder", "disc_x", "disc_z", "disc_pair"]
    return {name: getattr(model, name) for name in names}


def snapshot(model: PAGAN) -> dict[str, list[torch.Tensor]]:
    return {k: [p.detach().clone() for p in m.parameters()] for k, m in groups(model).items()}


def unchanged(before: dict[str, list[torch.Tensor]], model: PAGAN) -> dict[str, int]:
    """How many parameters of each network still equal their ``before`` values."""
    return {
        name: sum(torch.equal(a, b) for a, b in zip(before[name], m.parameters(), strict=True))
        for name, m in groups(model).items()
    }


@pytest.mark.parametrize("mode", PAIR_MODES)
def test_every_pair_mode_trains(mode: str, tmp_path: Path) -> None:
    """Three steps with each pair discriminator: every network moves, the logged losses and
    the validation's pair_match are finite."""
    model = instantiate_model(compose_train([*TINY, f"model.disc_pair.mode={mode}"], tmp_path))
    before = snapshot(model)
    val = loader(16)
    trainer = quiet_trainer(tmp_path, max_steps=3, limit_val_batches=1, val_check_interval=3)
    trainer.fit(model, loader(), val)
    assert not any(unchanged(before, model).values()), unchanged(before, model)
    logged = trainer.callback_metrics
    assert {"train/d_pair", "val/pair_match"} <= set(logged)
    assert all(torch.isfinite(v).all() for v in logged.values())
    # the logged value is D_xx's ranking of the first validation batch's pairs (seed 0)
    model.eval()
    torch.manual_seed(0)
    expected = pair_match(model.disc_pair, next(iter(val))[0], model.augmenter)
    torch.testing.assert_close(logged["val/pair_match"], expected)


def test_validation_leaves_the_training_random_stream_alone(tmp_path: Path) -> None:
    """val/pair_match draws augmentations; with validation after every step, training ends
    with the same weights, bit for bit, as without any validation."""
    weights = []
    for val_batches in (0, 1):
        torch.manual_seed(0)
        model = instantiate_model(compose_train(TINY, tmp_path))
        trainer = quiet_trainer(
            tmp_path, max_steps=3, limit_val_batches=val_batches, val_check_interval=1
        )
        trainer.fit(model, loader(), loader(16))
        weights.append([p.detach().clone() for p in model.parameters()])
    assert "val/pair_match" in trainer.callback_metrics  # validation did run
    assert all(torch.equal(a, b) for a, b in zip(*weights, strict=True))


def test_one_step_updates_every_network(tiny_model: PAGAN, tmp_path: Path) -> None:
    before = snapshot(tiny_model)
    fit(tiny_model, 1, tmp_path)
    assert not any(unchanged(before, tiny_model).values()), unchanged(before, tiny_model)


@pytest.mark.parametrize("order", ["simultaneous", "alternating"])
def test_each_backward_reaches_only_its_own_networks(
    order: str, tiny_model: PAGAN, tmp_path: Path
) -> None:
    """Phase 1 (discriminator loss) fills gradients of D_x, D_z, D_xx only; phase 2 (L_g + L_e)
    fills gradients of G and E only, in either update order."""
    tiny_model.hparams.update_order = order
    phases: list[set[str]] = []
    backward = tiny_model.manual_backward

    def recording_backward(loss, *args, **kwargs):
        def grads():
            return {
                name: [None if p.grad is None else p.grad.clone() for p in m.parameters()]
                for name, m in groups(tiny_model).items()
            }

        before = grads()
        backward(loss, *args, **kwargs)
        after = grads()
        touched = set()
        for name in before:
            for b, a in zip(before[name], after[name], strict=True):
                if a is not None and (b is None or not torch.equal(a, b)):
                    touched.add(name)
        phases.append(touched)

    tiny_model.manual_backward = recording_backward
    fit(tiny_model, 1, tmp_path)
    assert phases == [{"disc_x", "disc_z", "disc_pair"}, {"generator", "encoder"}]


SGD = [
    f"model.{opt}.{change}"
    for opt in ("optimizer_g", "optimizer_d")
    for change in ("_target_=torch.optim.SGD", "lr=1.0")
] + ["~model.optimizer_g.betas", "~model.optimizer_d.betas"]


def test_a_simultaneous_step_follows_the_gradients_of_algorithm_1(tmp_path: Path) -> None:
    """One simultaneous step with SGD(lr=1) moves every parameter by minus its network's
    gradient in Algorithm 1, all taken against the same discriminators: L_d (the three games'
    non-saturating losses, eqs. 5, 6, 11) for D_x, D_z, D_xx; L_g (the D_x and D_xx terms) for
    G; L_e (the D_z and D_xx terms) for E. The losses are written out here from the same draws
    (seed, loader, then z, the posterior noise, a(x)) and one pass of each critic over
    cat(real, fake): the step's two passes (real, fake) under one spectral normalisation give
    the same outputs."""
    model = instantiate_model(compose_train([*TINY, *SGD], tmp_path))
    assert model.hparams.update_order == "simultaneous"
    reference = copy.deepcopy(model)
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    torch.manual_seed(1)
    quiet_trainer(tmp_path, max_steps=1).fit(model, DataLoader(TensorDataset(x), batch_size=8))
    torch.manual_seed(1)
    for (batch,) in DataLoader(TensorDataset(x), batch_size=8):  # draws the loader's seed too
        s = algorithm.draw_samples(reference, batch)

    def outputs(critic: nn.Module, real: tuple, fake: tuple) -> tuple[torch.Tensor, ...]:
        return critic(*[torch.cat([r, f]) for r, f in zip(real, fake, strict=True)]).chunk(2)

    real_x, fake_x = outputs(reference.disc_x, (x,), (s.x_prior,))
    real_z, fake_z = outputs(reference.disc_z, (s.z,), (s.z_hat,))
    real_p, fake_p = outputs(reference.disc_pair, (x, reference.augmenter(x)), (x, s.x_rec))
    pairs = [(real_x, fake_x), (real_z, fake_z), (real_p, fake_p)]
    loss_d = sum(F.softplus(-r).mean() + F.softplus(f).mean() for r, f in pairs)
    loss_g = F.softplus(-fake_x).mean() + F.softplus(-fake_p).mean()
    loss_e = F.softplus(-fake_z).mean() + F.softplus(-fake_p).mean()
    for names, loss in (
        (("disc_x", "disc_z", "disc_pair"), loss_d),
        (("generator",), loss_g),
        (("encoder",), loss_e),
    ):
        before = [p for name in names for p in getattr(reference, name).parameters()]
        after = [p for name in names for p in getattr(model, name).parameters()]
        grads = torch.autograd.grad(loss, before, retain_graph=True)
        for b, a, g in zip(before, after, grads, strict=True):
            torch.testing.assert_close(b - a, g, atol=1e-6, rtol=1e-4, msg=str(names))


def test_pairs_follow_eq_11(tiny_model: PAGAN, tmp_path: Path) -> None:
    """Real pair (x, a(x)), fake pair (x, G(E(x))), both with the same x."""
    tiny_model.augmenter = Flip()
    seen: dict[str, list[torch.Tensor]] = {"g": [], "pair": [], "batch": []}
    tiny_model.generator.register_forward_hook(lambda m, i, o: seen["g"].append(o.detach()))
    tiny_model.disc_pair.register_forward_hook(
        lambda m, i, o: seen["pair"].append([t.detach() for t in i])
    )
    tiny_model.encoder.register_forward_pre_hook(lambda m, i: seen["batch"].append(i[0].clone()))
    fit(tiny_model, 1, tmp_path)
    (x,) = seen["batch"]
    _x_prior, x_rec = seen["g"]  # G(z) first, then G(z_hat)
    (x_real, a_x), (x_fake, fake) = seen["pair"]  # the real pair's pass, then the fake's
    assert torch.equal(x_real, x) and torch.equal(x_fake, x)
    assert torch.equal(a_x, x.flip(-1))  # real: a(x)
    assert torch.equal(fake, x_rec)  # fake: G(E(x))


def test_global_step_counts_generator_updates(tiny_model: PAGAN, tmp_path: Path) -> None:
    tiny_model.hparams.n_dis = 2
    batches = []

    class Count(pl.Callback):
        def on_train_batch_end(self, *args) -> None:
            batches.append(1)

    trainer = fit(tiny_model, 3, tmp_path, callbacks=[Count()])
    assert trainer.global_step == 3
    assert len(batches) == 5  # generator updated on batches 0, 2, 4; discriminators on all
    assert int(tiny_model.d_steps) == 5  # checkpointed with the weights
    assert "d_steps" in tiny_model.state_dict()


def test_n_dis_schedule_runs_across_epochs(tiny_model: PAGAN, tmp_path: Path) -> None:
    """8 batches per epoch, n_dis=3: the generator steps every third batch over the whole run,
    not every third batch of each epoch."""
    tiny_model.hparams.n_dis = 3
    trainer = fit(tiny_model, 6, tmp_path)  # needs 16 batches: two epochs
    assert trainer.global_step == 6 and int(tiny_model.d_steps) == 16


def test_inference_api_after_load_from_checkpoint(tiny_model: PAGAN, tmp_path: Path) -> None:
    trainer = fit(tiny_model, 2, tmp_path)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    loaded = PAGAN.load_from_checkpoint(path)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert loaded.sample(5).shape == (5, 1, 32, 32)
    assert loaded.encode(x).shape == (3, tiny_model.latent_dim)
    assert torch.allclose(loaded.reconstruct(x), tiny_model.reconstruct(x), atol=1e-6)
    assert not torch.equal(loaded.encode(x, sample=True), loaded.encode(x))
    path_images = loaded.interpolate(x, x.flip(0), steps=4)
    assert path_images.shape == (4, 3, 1, 32, 32)
    assert torch.allclose(path_images[0], loaded.reconstruct(x), atol=1e-6)
    assert torch.allclose(path_images[-1], loaded.reconstruct(x.flip(0)), atol=1e-6)
    assert loaded.training  # inference leaves the mode as it was
    loaded.eval()
    loaded.sample(2)
    assert not loaded.training


def test_optimizers_come_from_config(tiny_model: PAGAN) -> None:
    opt_g, _opt_d = tiny_model.configure_optimizers()
    assert isinstance(opt_g, torch.optim.Adam) and opt_g.defaults["betas"] == (0.5, 0.999)
    assert opt_g.defaults["lr"] == pytest.approx(2e-4)
    n_ge = sum(
        p.numel() for m in (tiny_model.generator, tiny_model.encoder) for p in m.parameters()
    )
    assert sum(p.numel() for g in opt_g.param_groups for p in g["params"]) == n_ge


def test_image_grids_without_a_datamodule(tiny_model: PAGAN, tmp_path: Path) -> None:
    """Fitting on a plain DataLoader: the reconstruction grid uses its first images."""
    grids = ImageGrids(dirpath=str(tmp_path / "images"), every_n_steps=2, n_reconstructions=4)
    fit(tiny_model, 2, tmp_path, callbacks=[grids])
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "reconstructions_000002.png",
        "samples_000002.png",
    ]


def test_resuming_under_another_learning_rate_schedule_is_refused(tmp_path: Path) -> None:
    """From Python too (Trainer.fit(ckpt_path=...)), not only through pagan-train's check:
    the schedulers' state would come from the checkpoint and the rates silently differ."""
    linear = [*TINY, "model/lr_schedule=linear", "trainer.max_steps=4"]
    trained = instantiate_model(compose_train(linear, tmp_path))
    trainer = fit(trained, 2, tmp_path)
    trainer.save_checkpoint(tmp_path / "linear.ckpt")
    constant = instantiate_model(compose_train(TINY, tmp_path))
    with pytest.raises(ConfigError, match="trained with a learning-rate schedule, this run is"):
        quiet_trainer(tmp_path, max_steps=4).fit(
            constant, loader(), ckpt_path=tmp_path / "linear.ckpt"
        )
    longer = instantiate_model(
        compose_train([*TINY, "model/lr_schedule=linear", "trainer.max_steps=8"], tmp_path)
    )
    with pytest.raises(ConfigError, match="schedule ends at step 4, this run's at 8"):
        quiet_trainer(tmp_path, max_steps=8).fit(
            longer, loader(), ckpt_path=tmp_path / "linear.ckpt"
        )
