"""The paper's ablations as config choices of the same module, sweeps and collected tables."""

import json
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning import algorithm
from pagan_lightning.augment import Identity, ReflectPadCrop
from pagan_lightning.cli.collect import collect, summarize
from pagan_lightning.module import PAGAN
from pagan_lightning.objectives import FGAN, GradientPenalty, WassersteinGAN
from pagan_lightning.runtime.configs import config_dir, instantiate_model
from pagan_lightning.runtime.errors import ConfigError
from tests.helpers.configs import TINY, cli, compose_train, console_script, quiet_trainer

VARIANTS = ["pagan", "l1", "noaug", "wgan_gp", "f_gan"]


def train_steps(model: PAGAN, steps: int, tmp_path: Path) -> dict[str, float]:
    logged: dict[str, list[float]] = {}

    class Record(pl.Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            for k, v in trainer.callback_metrics.items():
                logged.setdefault(k, []).append(float(v))

    data = DataLoader(TensorDataset(torch.rand(96, 1, 32, 32) * 2 - 1), batch_size=8)
    trainer = quiet_trainer(tmp_path, max_steps=steps, callbacks=[Record()])
    trainer.fit(model, data)
    assert trainer.global_step == steps
    return {k: v[-1] for k, v in logged.items()} | {"_all": [x for v in logged.values() for x in v]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_trains_with_finite_losses(variant: str, tmp_path: Path) -> None:
    model = instantiate_model(compose_train([*TINY, f"variant={variant}"], tmp_path))
    logged = train_steps(model, 2, tmp_path)
    assert all(math.isfinite(x) for x in logged.pop("_all"))
    assert {"train/d_x", "train/d_z", "train/g", "train/e"} <= set(logged)
    if variant != "l1":
        assert "train/d_pair" in logged


def test_l1_has_no_pair_discriminator(tmp_path: Path) -> None:
    model = instantiate_model(compose_train([*TINY, "variant=l1"], tmp_path))
    assert model.disc_pair is None and "pair" not in model.games()
    assert not any(name.startswith("disc_pair") for name, _ in model.named_parameters())
    assert isinstance(model.augmenter, Identity)
    assert "train/rec" in train_steps(model, 1, tmp_path)


def test_noaug_uses_identity_pairs(tmp_path: Path) -> None:
    model = instantiate_model(compose_train([*TINY, "variant=noaug"], tmp_path))
    assert isinstance(model.augmenter, Identity) and model.disc_pair is not None
    assert isinstance(instantiate_model(compose_train(TINY, tmp_path)).augmenter, ReflectPadCrop)


def test_wgan_gp_settings(tmp_path: Path) -> None:
    cfg = compose_train([*TINY, "variant=wgan_gp"], tmp_path)
    model = instantiate_model(cfg)
    assert isinstance(model.objective, WassersteinGAN)
    assert isinstance(model.gradient_penalty, GradientPenalty)
    assert model.gradient_penalty.weight == 10
    assert model.disc_pair.mode == "channel" and model.hparams.n_dis == 10
    logged = train_steps(model, 2, tmp_path)  # generator steps on batches 0 and 10
    assert int(model.d_steps) == 11
    assert {"train/gp_x", "train/gp_z", "train/gp_pair"} <= set(logged)
    assert all(logged[f"train/gp_{g}"] > 0 for g in ("x", "z", "pair"))


@pytest.mark.parametrize("f", ["kl", "reverse_kl", "pearson", "hellinger", "js", "gan"])
def test_f_gan_divergence_from_config(f: str, tmp_path: Path) -> None:
    model = instantiate_model(
        compose_train([*TINY, "variant=f_gan", f"model.objective.divergence={f}"], tmp_path)
    )
    # every game of the model scores its critic's outputs with this divergence's V (eq. 28)
    real, fake = torch.randn(8), torch.randn(8)
    chosen = FGAN(f)
    for name, game in model.games().items():
        used = algorithm.objective_of(model, game)
        for got, want in [
            (used.discriminator_loss(real, fake), chosen.discriminator_loss(real, fake)),
            (used.generator_loss(fake), chosen.generator_loss(fake)),
        ]:
            torch.testing.assert_close(got, want, msg=name)


def test_sweep_of_two_variants_gives_a_two_row_table(fashion_dir: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = [
        console_script("pagan-train"),
        "-m",
        "variant=pagan,l1",
        *TINY,
        f"paths.data_dir={fashion_dir}",
        "data.system_dir=null",
        "data.download=false",
        "data.batch_size=16",
        "data.val_size=56",
        "trainer.max_steps=3",
        "trainer.val_check_interval=3",
        "trainer.limit_val_batches=1",
        "trainer.log_every_n_steps=1",
        "callbacks.progress_bar=null",
        f"hydra.sweep.dir={sweep}",
    ]
    out = cli(cmd, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    collected = cli(
        [console_script("pagan-collect"), str(sweep)],
        timeout=60,
    )
    assert collected.returncode == 0, collected.stderr
    rows = collect(sweep)
    assert [r["variant"] for r in rows] == ["pagan", "l1"]
    assert all(r["steps"] == "3" for r in rows)
    assert "train/d_pair" in rows[0] and "train/rec" in rows[1] and "val/rec_mse" in rows[0]
    table = (sweep / "table.md").read_text().splitlines()
    assert len(table) == 4 and "variant=l1" in table[3]
    assert (sweep / "table.csv").read_text().count("\n") == 3
    # the real .hydra/ files give the paper's group names; no evaluation: n=0, no verdicts
    pagan, l1 = summarize(sweep)
    assert pagan.label == "PAGAN (width)"  # model/pagan.yaml: the paper's pairs
    assert l1.label == "PAGAN-L1" and pagan.n == l1.n == 0
    assert "PAGAN-L1" in collected.stdout and "- none:" in collected.stdout


def test_collect_on_a_folder_without_jobs_is_a_clear_error(tmp_path: Path) -> None:
    out = cli(
        [console_script("pagan-collect"), str(tmp_path)],
    )
    assert out.returncode == 2 and "no Hydra job folders" in out.stderr


@pytest.mark.parametrize("experiment", ["table3_quick", "table3", "table4"])
def test_table_experiments_sweep_the_paper_variants(experiment: str, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}"], return_hydra_config=True)
    expected = "wgan_gp" if experiment == "table4" else "pagan,l1,noaug"
    assert cfg.hydra.sweeper.params.variant == expected
    for variant in expected.split(","):  # every job of the sweep builds
        job = compose_train([f"experiment={experiment}", f"variant={variant}"], tmp_path)
        model = instantiate_model(job)
        assert (model.disc_pair is None) == (variant == "l1")


def test_optuna_search_and_slurm_launcher_compose() -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["hparams_search=optuna", "hydra/launcher=slurm", "experiment=quickstart"],
            return_hydra_config=True,
        )
    assert cfg.optimized_metric == "val/rec_mse"
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert "model.optimizer_g.lr" in cfg.hydra.sweeper.params
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 1


def test_collect_orders_numbered_and_named_jobs(tmp_path: Path) -> None:
    for job, choices in (
        ("10", {"variant": "l1"}),
        ("2", {"variant": "pagan"}),
        ("vae", {"model": "vae"}),
    ):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        OmegaConf.save(
            {"hydra": {"runtime": {"choices": choices}}}, tmp_path / job / ".hydra" / "hydra.yaml"
        )
        OmegaConf.save(OmegaConf.create([]), tmp_path / job / ".hydra" / "overrides.yaml")
    rows = collect(tmp_path)
    assert [(r["job"], r["variant"]) for r in rows] == [
        ("2", "pagan"),
        ("10", "l1"),
        ("vae", "vae"),
    ]


def test_the_papers_variants_compose_to_the_same_hyper_parameters_as_before(
    tmp_path: Path,
) -> None:
    """``tests/fixtures/variant_hparams.json``: ``cfg.model`` of every variant and experiment,
    written before the parts became extensible (issue #19); the keys added since hold their
    neutral defaults, and on purpose two defaults changed (the paper's simultaneous update
    order, issue #20, and channels_last in the CPU experiments, issue #21) and one option went
    (WPAGAN's ``alpha``: eq. 39 draws the same pairs as eq. 38 in Algorithm 1, issue #20)."""
    before = json.loads((Path(__file__).parent / "fixtures" / "variant_hparams.json").read_text())
    added = {"game_objectives": {}, "game_penalties": {}, "extra_games": {}}
    changed = {"update_order": "simultaneous"}
    on_cpu = {"quickstart", "table3_quick"}
    for name, expected in before.items():
        experiment, variant = name.split("/")
        overrides = [f"variant={variant}"] + ([f"experiment={experiment}"] * (experiment != "null"))
        model = OmegaConf.to_container(compose_train(overrides, tmp_path).model, resolve=True)
        now = expected | added | changed
        if experiment in on_cpu:
            now["channels_last"] = True
        if now.get("gradient_penalty"):
            now["gradient_penalty"] = {
                k: v for k, v in now["gradient_penalty"].items() if k != "alpha"
            }
        assert model == now, name


GAN = [o for o in TINY if not o.startswith(("model.encoder", "model.disc_z"))]


def test_the_gan_control_is_g_and_d_x_alone(tmp_path: Path) -> None:
    """variant=gan: the same generator and D_x, no encoder, D_z or D_xx; one game, one
    generator pass a batch, and the losses d_x and g only."""
    model = instantiate_model(compose_train([*GAN, "variant=gan"], tmp_path))
    pagan = instantiate_model(compose_train(GAN, tmp_path))
    assert model.encoder is None and model.disc_z is None and model.disc_pair is None
    assert list(model.games()) == ["x"] and not model.can_reconstruct
    for net in ("generator", "disc_x"):  # the same networks as PAGAN's
        shapes = [p.shape for p in getattr(model, net).parameters()]
        assert shapes == [p.shape for p in getattr(pagan, net).parameters()], net
    passes = []
    model.generator.register_forward_pre_hook(lambda m, i: passes.append(1))
    logged = train_steps(model, 2, tmp_path)
    assert len(passes) == 2 and all(math.isfinite(x) for x in logged.pop("_all"))
    assert {k for k in logged if k.startswith("train/")} == {"train/d_x", "train/g"}


def test_games_that_need_an_encoder_refuse_to_run_without_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.encoder is null but model\.disc_z"):
        instantiate_model(compose_train([*GAN, "model.encoder=null"], tmp_path))


def test_sampled_reconstructions_differ_from_the_mean_only_when_sigma_is_positive(
    tmp_path: Path,
) -> None:
    """metrics.reconstruction=sample reconstructs G(z_hat), z_hat ~ q(z|x) (the paper's x_rec);
    mean reconstructs G(mu(x)); they coincide when sigma = 0."""
    model = instantiate_model(compose_train(TINY, tmp_path))
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    assert not torch.equal(model.reconstruct(x, sample=True), model.reconstruct(x))
    forward = model.encoder.forward
    model.encoder.forward = lambda x: (forward(x)[0], torch.zeros(len(x), 8))
    torch.testing.assert_close(model.reconstruct(x, sample=True), model.reconstruct(x))
