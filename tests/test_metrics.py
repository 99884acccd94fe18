"""Metrics: IS / FID as torch-fidelity computes them for us, RID (eq. 18), the pixel distances,
both feature extractors (Inception on stand-in weights, the dataset classifier) and
compute_metrics end to end, all offline."""

import dataclasses
import itertools
import math
import shutil
import sys
import urllib.error
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.utils import create_feature_extractor, resolve_feature_layer_for_metric

from pagan_lightning.augment import ReflectPadCrop
from pagan_lightning.cli.train_classifier import train_classifier
from pagan_lightning.data import FashionMNISTDataModule
from pagan_lightning.metrics import (
    GeneratorSamples,
    MetricsConfig,
    UInt8Images,
    compute_metrics,
    kl_divergence,
    l2_image,
    load_classifier,
    metrics_config,
    resolve_features,
    rid,
    rmse_pixel,
    squared_distances,
    to_uint8,
)
from pagan_lightning.metrics.features import INCEPTION_FILE
from pagan_lightning.runtime.configs import config_dir
from pagan_lightning.runtime.errors import ConfigError, MissingWeightsError
from tests.helpers.configs import cli, compose_train
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

# ------------------------------------------------------------------------------- fixtures


class Replay:
    """A stand-in for a trained model: ``sample`` replays ``images`` in order (ignoring z),
    ``reconstruct`` applies ``rec`` (identity: perfect reconstructions)."""

    latent_dim = 4
    device = torch.device("cpu")

    def __init__(
        self, images: torch.Tensor, rec: Callable[[torch.Tensor], torch.Tensor] = lambda x: x
    ) -> None:
        self.images, self.rec, self.drawn = images, rec, 0

    def sample(self, n: int, z: torch.Tensor | None = None) -> torch.Tensor:
        out = self.images[self.drawn : self.drawn + n]
        self.drawn += n
        return out

    def reconstruct(
        self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.rec(x)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist_like(root / "FashionMNIST" / "raw", n_train=256, n_test=40)
    return root


def datamodule(data_dir: Path) -> FashionMNISTDataModule:
    dm = FashionMNISTDataModule(data_dir=str(data_dir), system_dir=None, download=False)
    dm.val_size = 56
    dm.setup()
    return dm


def training_images(dm: FashionMNISTDataModule, n: int) -> torch.Tensor:
    return torch.stack([dm.train_set[i][0] for i in range(n)])


@pytest.fixture(scope="module")
def classifier_weights(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pagan-train-classifier``'s config and code, 3 steps on the synthetic IDX files."""
    out = tmp_path_factory.mktemp("classifier")
    path, accuracy = train_classifier(classifier_config(data_dir, out))
    assert path == out / "FashionMNIST.pt" and 0 <= accuracy <= 1
    return path


def classifier_config(data_dir: Path, out: Path, *overrides: str) -> DictConfig:
    """``conf/classifier.yaml`` for 3 steps on the synthetic IDX files, weights in ``out``."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            "classifier",
            overrides=[
                f"paths.data_dir={data_dir}",
                "data.system_dir=null",
                "data.download=false",
                "data.val_size=56",
                "data.batch_size=16",
                "trainer.max_steps=3",
                "trainer.enable_progress_bar=false",
                f"weights={out}/FashionMNIST.pt",
                *overrides,
            ],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    return cfg


def test_a_trained_classifier_is_replaced_only_on_request(
    data_dir: Path, classifier_weights: Path, tmp_path: Path
) -> None:
    """Every metrics=classifier number depends on that file: a new training run must not
    silently replace it (issue #12)."""
    trained = tmp_path / "FashionMNIST.pt"
    shutil.copy(classifier_weights, trained)
    before = trained.read_bytes()
    with pytest.raises(ConfigError, match=r"FashionMNIST\.pt exists \(FashionMNIST, test accuracy"):
        train_classifier(classifier_config(data_dir, tmp_path))
    assert trained.read_bytes() == before
    path, _ = train_classifier(classifier_config(data_dir, tmp_path, "overwrite=true", "seed=1"))
    assert path == trained and trained.read_bytes() != before
    assert not list(tmp_path.glob("*.partial"))


@pytest.fixture(scope="module")
def inception_standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random weights with the real layout of torch-fidelity's Inception, saved as a plain
    state dict (the format its ``feature_extractor_weights_path`` loads)."""
    with pytest.MonkeyPatch.context() as patch:  # build the network without loading weights
        patch.setattr(tf_inception, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda *a: None)
        net = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = tmp_path_factory.mktemp("inception") / "standin-inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub cache and no network: every download fails."""

    def no_network(url: str, *args, **kwargs) -> None:
        raise urllib.error.URLError(f"no network for {url}")

    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", no_network)
    return hub


# ------------------------------------------------------------- IS / FID (torch-fidelity)


def test_fid_matches_the_closed_form_for_gaussians() -> None:
    """FID = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2); diagonal S: sum (s1 - s2)^2."""
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, -1.0, 2.0]), np.array([0.5, 1.0, 0.0, 2.0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.5, 1.0, 0.5, 3.0])
    n = 200_000
    f1 = torch.from_numpy(mu1 + s1 * rng.standard_normal((n, 4)))
    f2 = torch.from_numpy(mu2 + s2 * rng.standard_normal((n, 4)))
    fid = fid_statistics_to_metric(
        fid_features_to_statistics(f1), fid_features_to_statistics(f2), verbose=False
    )["frechet_inception_distance"]
    closed_form = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    assert fid == pytest.approx(closed_form, rel=0.02)


def test_inception_score_is_one_for_identical_predictions() -> None:
    logits = torch.randn(1, 10).repeat(100, 1)
    score = isc_features_to_metric(logits, splits=10)
    assert score["inception_score_mean"] == pytest.approx(1.0)
    assert score["inception_score_std"] == pytest.approx(0.0, abs=1e-12)


def test_inception_score_is_the_number_of_classes_for_uniform_one_hot_predictions() -> None:
    classes, splits = 7, 10
    labels = torch.arange(classes * splits * 3) % classes  # every split holds each class 3x
    logits = 50.0 * torch.nn.functional.one_hot(labels, classes).double()
    score = isc_features_to_metric(logits, splits=splits, shuffle=False)
    assert score["inception_score_mean"] == pytest.approx(classes)


# ------------------------------------------------------------------------ RID, eq. (18)


def test_kl_is_of_the_original_prediction_against_the_reconstruction() -> None:
    logits_x = torch.tensor([[3.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    logits_rec = torch.tensor([[0.0, 2.0, 0.0], [1.0, -2.0, 0.5]])
    p_x, p_rec = logits_x.double().softmax(1), logits_rec.double().softmax(1)
    by_hand = (p_x * (p_x / p_rec).log()).sum(1)
    reverse = (p_rec * (p_rec / p_x).log()).sum(1)
    kl = kl_divergence(logits_x, logits_rec)
    assert torch.allclose(kl, by_hand)
    assert not torch.allclose(kl, reverse)


def test_rid_is_one_when_reconstructions_equal_originals() -> None:
    logits = torch.randn(30, 10)
    assert rid(kl_divergence(logits, logits)) == (1.0, 0.0)


def test_rid_std_comes_from_sequential_splits_without_shuffling() -> None:
    kl = torch.tensor([0.1 * i for i in range(23)], dtype=torch.float64)
    value, std = rid(kl, splits=10)
    bounds = [0, 2, 4, 6, 9, 11, 13, 16, 18, 20, 23]  # i * 23 // 10
    parts = [math.exp(kl[a:b].mean().item()) for a, b in itertools.pairwise(bounds)]
    assert value == pytest.approx(math.exp(kl.mean().item()))
    assert std == pytest.approx(float(np.std(parts)))
    shuffled_value, shuffled_std = rid(kl[torch.randperm(23)], splits=10)
    assert shuffled_value == pytest.approx(value) and shuffled_std != pytest.approx(std)


def test_rid_needs_a_sample_per_split() -> None:
    with pytest.raises(ValueError, match="at least 10 samples"):
        rid(torch.zeros(9))


# ------------------------------------------------------------------------ pixel distances


def test_rmse_pixel_and_l2_image_on_known_images() -> None:
    x = -torch.ones(2, 1, 2, 2)  # black: 0 in [0, 1]
    y = x.clone()
    y[0] = 1.0  # every pixel of image 0 off by 1: ||.|| = 2
    y[1, 0, 0, 0] = 0.0  # one pixel of image 1 off by 0.5: ||.|| = 0.5
    squared = squared_distances(x, y)
    assert squared.tolist() == [4.0, 0.25]
    assert rmse_pixel(squared, pixels=4) == pytest.approx(math.sqrt((4 + 0.25) / 8))
    assert l2_image(squared) == pytest.approx((2 + 0.5) / 2)


def test_uint8_conversion_inverts_the_datamodules(data_dir: Path) -> None:
    raw = datamodule(data_dir).test_set.images[:4, 0]  # uint8 28x28
    x = torch.stack([datamodule(data_dir).test_set[i][0] for i in range(4)])  # [-1, 1], padded
    assert torch.equal(to_uint8(x)[:, 0, 2:-2, 2:-2], raw)
    assert to_uint8(x, channels=3).shape == (4, 3, 32, 32)


# ---------------------------------------------------------------------- feature extractors


def test_classifier_weights_load_with_weights_only(classifier_weights: Path) -> None:
    saved = torch.load(classifier_weights, weights_only=True)
    assert saved["meta"]["dataset"] == "FashionMNIST" and saved["meta"]["image_size"] == 32
    assert len(saved["meta"]["classes"]) == saved["meta"]["arch"]["num_classes"] == 10
    classifier, _ = load_classifier(classifier_weights)
    assert classifier(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


def test_classifier_is_a_torch_fidelity_feature_extractor(classifier_weights: Path) -> None:
    layers = ["penultimate", "logits_unbiased", "logits"]
    extractor = create_feature_extractor(
        "pagan-classifier", layers, cuda=False, feature_extractor_weights_path=classifier_weights
    )
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)  # resized to 32
    penultimate, unbiased, logits = extractor(images)
    assert penultimate.shape == (5, 128) and unbiased.shape == logits.shape == (5, 10)
    assert torch.allclose(logits - unbiased, extractor.classifier.head.bias.expand(5, -1))
    for metric, layer in (("isc", "logits_unbiased"), ("fid", "penultimate")):
        assert resolve_feature_layer_for_metric(metric, feature_extractor="pagan-classifier") == (
            layer
        )


def test_missing_inception_weights_offline_is_one_clear_error_before_any_work(
    offline: Path, data_dir: Path
) -> None:
    dm = datamodule(data_dir)
    model = Replay(training_images(dm, 10))
    with pytest.raises(MissingWeightsError) as err:
        compute_metrics(model, dm, MetricsConfig(features="inception", num_samples=10))
    message = str(err.value)
    assert URL_INCEPTION_V3 in message and INCEPTION_FILE in message
    assert "metrics.inception_weights=" in message and str(offline / "checkpoints") in message
    assert model.drawn == 0


def test_missing_local_weights_name_the_config_key(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError, match=r"metrics.inception_weights=.*not a file"):
        resolve_features(MetricsConfig(inception_weights=str(tmp_path / "x.pth")), "MNIST")
    cfg = MetricsConfig(features="classifier", classifier_weights=f"{tmp_path}/{{dataset}}.pt")
    with pytest.raises(MissingWeightsError, match=r"MNIST\.pt not found.*pagan-train-classifier"):
        resolve_features(cfg, "MNIST")


# ---------------------------------------------------------------------- compute_metrics


def classifier_metrics(weights: Path, tmp_path: Path, **fields) -> MetricsConfig:
    """Metrics in the feature space of the classifier ``weights``, cached under ``tmp_path``."""
    return MetricsConfig(
        features="classifier",
        classifier_weights=str(weights),
        cache_dir=str(tmp_path / "cache"),
        **fields,
    )


def test_compute_metrics_in_classifier_space(
    data_dir: Path, classifier_weights: Path, tmp_path: Path
) -> None:
    """Samples = the training images themselves and perfect reconstructions: FID ~ 0, RID = 1."""
    dm = datamodule(data_dir)
    model = Replay(training_images(dm, 64))
    cfg = MetricsConfig(
        features="classifier",
        classifier_weights=str(classifier_weights),
        num_samples=64,
        num_real=64,
        batch_size=16,
        kid_subsets=5,
        cache_dir=str(tmp_path / "cache"),
    )
    results = compute_metrics(model, dm, cfg, ReflectPadCrop(0.1))
    assert results["features"] == "classifier"
    assert results["feature_weights"] == str(classifier_weights)
    assert (results["num_samples"], results["num_real"], results["num_test"]) == (64, 64, 40)
    assert results["kid_subset_size"] == 64
    assert abs(results["fid"]) < 1e-6
    assert 1.0 <= results["is"] <= 10.0
    assert (results["rid"], results["rid_std"]) == (1.0, 0.0)
    assert results["rmse_pixel"] == results["l2_image"] == 0.0
    assert results["aug_rid"] >= 1.0 and results["aug_l2_image"] > 0.0
    # Jensen: the mean distance is at most the root mean square distance
    assert results["aug_l2_image"] / math.sqrt(32 * 32) <= results["aug_rmse_pixel"]
    cached = list((tmp_path / "cache").glob("pagan-FashionMNIST-train64-*-features.pt"))
    assert len(cached) == 1
    no_aug = compute_metrics(model, dm, dataclasses.replace(cfg, num_samples=0))  # no augmenter
    assert no_aug["rid"] == 1.0 and not [key for key in no_aug if key.startswith("aug_")]


def test_compute_metrics_on_pagan_is_seeded_and_leaves_the_callers_rng_alone(
    tiny_model, data_dir: Path, classifier_weights: Path, tmp_path: Path
) -> None:
    cfg = classifier_metrics(
        classifier_weights, tmp_path, num_samples=20, num_real=20, num_test=20, kid=False
    )
    rng_state = torch.get_rng_state()
    first = compute_metrics(tiny_model, datamodule(data_dir), cfg, tiny_model.augmenter)
    assert torch.equal(torch.get_rng_state(), rng_state)
    second = compute_metrics(tiny_model, datamodule(data_dir), cfg, tiny_model.augmenter)  # cached
    assert first == second
    assert all(math.isfinite(first[k]) for k in ("is", "fid", "rid", "aug_rid", "rmse_pixel"))
    assert first["rid"] >= 1 - 1e-9 and first["aug_rid"] >= 1 - 1e-9


def test_is_fid_kid_are_torch_fidelitys_calculate_metrics(
    tiny_model, data_dir: Path, classifier_weights: Path, tmp_path: Path
) -> None:
    """Our features and torch-fidelity's formulas give what torch-fidelity's own end-to-end
    function gives for the same generator, training images, extractor and seeds."""
    cfg = classifier_metrics(
        classifier_weights,
        tmp_path,
        num_samples=48,
        num_real=40,
        num_test=0,
        batch_size=16,
        kid_subsets=3,
        kid_subset_size=20,
    )
    ours = compute_metrics(tiny_model, datamodule(data_dir), cfg)
    dm = datamodule(data_dir)
    dm.setup("fit")
    theirs = torch_fidelity.calculate_metrics(
        input1=GeneratorSamples(tiny_model, 1),
        input1_model_num_samples=48,
        input2=UInt8Images(dm.train_set, 40, 1),
        isc=True,
        fid=True,
        kid=True,
        isc_splits=cfg.splits,
        kid_subsets=3,
        kid_subset_size=20,
        batch_size=16,
        cuda=False,
        rng_seed=cfg.seed,
        save_cpu_ram=True,
        verbose=False,
        feature_extractor="pagan-classifier",
        feature_extractor_weights_path=str(classifier_weights),
    )
    for key, name in [
        ("is", torch_fidelity.KEY_METRIC_ISC_MEAN),
        ("is_std", torch_fidelity.KEY_METRIC_ISC_STD),
        ("fid", torch_fidelity.KEY_METRIC_FID),
        ("kid", torch_fidelity.KEY_METRIC_KID_MEAN),
        ("kid_std", torch_fidelity.KEY_METRIC_KID_STD),
    ]:
        assert ours[key] == pytest.approx(theirs[name], rel=1e-5, abs=1e-6), key


def test_the_training_images_features_are_cached_and_read_back(
    tiny_model, data_dir: Path, classifier_weights: Path, tmp_path: Path
) -> None:
    cfg = classifier_metrics(
        classifier_weights, tmp_path, num_samples=20, num_real=20, num_test=0, kid=False
    )
    first = compute_metrics(tiny_model, datamodule(data_dir), cfg)
    (cached,) = (tmp_path / "cache").glob("*-features.pt")
    features = torch.load(cached, weights_only=True)
    torch.save({layer: 2 * rows for layer, rows in features.items()}, cached)
    moved = compute_metrics(tiny_model, datamodule(data_dir), cfg)
    assert moved["fid"] != first["fid"] and moved["is"] == first["is"]  # real features only
    # a cache folder that cannot be written costs time, not the evaluation
    (tmp_path / "blocked").write_text("a file, not a folder\n")
    blocked = dataclasses.replace(cfg, cache_dir=str(tmp_path / "blocked" / "cache"))
    assert compute_metrics(tiny_model, datamodule(data_dir), blocked) == first


def test_compute_metrics_with_inception_loads_local_weights_offline(
    data_dir: Path, inception_standin: Path, offline: Path, tmp_path: Path
) -> None:
    dm = datamodule(data_dir)
    model = Replay(training_images(dm, 2), rec=lambda x: x.flip(-1))
    cfg = {  # Inception at 299x299 is slow on a CPU: a few images only
        "inception_weights": str(inception_standin),
        "num_samples": 2,
        "num_real": 2,
        "num_test": 2,
        "splits": 2,
        "kid": False,
        "cache_dir": str(tmp_path / "cache"),
    }
    results = compute_metrics(model, dm, cfg, ReflectPadCrop(0.1))
    assert results["features"] == "inception"
    assert results["feature_extractor"] == "inception-v3-compat"
    assert results["feature_weights"] == str(inception_standin)
    assert model.drawn == 2 and "kid" not in results
    assert all(math.isfinite(results[k]) for k in ("is", "fid", "rid", "aug_rid", "l2_image"))
    assert results["l2_image"] > 0.0  # the flipped reconstructions


# ------------------------------------------------------------------------------- configs


def test_metrics_config_composes_into_metrics_config(tmp_path: Path) -> None:
    cfg = compose_train(["+metrics=default", "metrics.features=classifier"], tmp_path)
    metrics = instantiate(cfg.metrics)
    assert isinstance(metrics, MetricsConfig) and metrics_config(cfg.metrics) == metrics
    assert metrics.features == "classifier" and metrics.num_samples == 50_000
    assert metrics.splits == 10 and metrics.classifier_weights.endswith("/{dataset}.pt")
    with pytest.raises(ConfigError, match=r"metrics\.features"):
        MetricsConfig(features="vgg")
    with pytest.raises(ConfigError, match=r"metrics\.num_test=5: 0 or at least"):
        MetricsConfig(num_test=5, splits=10)


def test_train_classifier_cli_reports_missing_data_in_one_line(tmp_path: Path) -> None:
    args = [
        sys.executable,
        "-m",
        "pagan_lightning.cli.train_classifier",
        f"paths.data_dir={tmp_path / 'empty'}",
        "data.system_dir=null",
        "data.download=false",
        f"weights={tmp_path / 'FashionMNIST.pt'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    out = cli(args, timeout=300)
    assert out.returncode != 0
    assert "error: FashionMNIST is not in" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+epochs=3", "unknown top-level key(s) epochs"),
        ("+classifier.depth=3", "unknown key classifier.depth for"),
        ("optimizer.lr=nan", "optimizer.lr=nan must be a finite number"),
        ("seed=-1", "seed=-1 must be an integer"),
    ],
)
def test_train_classifier_checks_its_config_before_any_work(
    override: str, message: str, tmp_path: Path
) -> None:
    args = [sys.executable, "-m", "pagan_lightning.cli.train_classifier", override]
    args += [f"weights={tmp_path / 'c.pt'}", f"hydra.run.dir={tmp_path / 'run'}"]
    out = cli(args, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert message in out.stderr.strip().splitlines()[-1]
