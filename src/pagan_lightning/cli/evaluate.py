"""Hydra entry point: ``pagan-evaluate ckpt_path=<file> [metrics.*=...]`` (``conf/evaluate.yaml``).

From one checkpoint to the paper's numbers: reads the checkpoint once, safely
(:func:`~pagan_lightning.runtime.checkpoint.module_from_checkpoint`), rebuilds the data of the
run that wrote it (``<run>/config_resolved.yaml``, or ``+data=<name>``), computes IS / FID /
KID / RID / RMSE and the AUG baseline (:func:`~pagan_lightning.metrics.compute_metrics`) and
writes, into the output folder (default ``<run>/eval/<date>_<time>``):

- ``metrics.json``: every number, the feature space used, the checkpoint and its step;
- ``results.md``: a table of ours beside the paper's numbers for the same dataset and variant;
- ``samples.png``, ``reconstructions.png`` (odd columns originals), ``interpolations.png``;
- ``rmse_vs_rid.png``: RMSE against RID for the model and AUG (and the paper's, Figure 3).
"""

import json
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torchvision.utils import save_image

from pagan_lightning.data import first_images
from pagan_lightning.metrics import compute_metrics, metrics_config
from pagan_lightning.reporting.figures import (
    interpolation_grid,
    reconstruction_grid,
    rmse_rid_scatter,
    sample_grid,
)
from pagan_lightning.reporting.paper import PAPER
from pagan_lightning.runtime.checkpoint import load_checkpoint, module_from_checkpoint
from pagan_lightning.runtime.configs import config_dir
from pagan_lightning.runtime.errors import (
    ConfigError,
    NonFiniteError,
    UserError,
    bugs_reported,
    exit_with,
)
from pagan_lightning.runtime.rundir import claim, row_name, run_dir
from pagan_lightning.runtime.trust import recorded_for
from pagan_lightning.runtime.validate import check_evaluate

log = logging.getLogger(__name__)
COLUMNS = {
    "is": "IS",
    "fid": "FID",
    "kid": "KID",
    "rid": "RID",
    "l2_image": "RMSE (image L2)",
    "rmse_pixel": "RMSE (per pixel)",
}


RESULTS = ("metrics.json",)  # an evaluation folder that holds these is refused
NO_CHECKPOINT = "error: pagan-evaluate needs ckpt_path=<run>/checkpoints/<file>.ckpt"


def output_dir_of(ckpt_path: str | None) -> str:
    """Hydra resolver ``eval_run_dir``: the run folder of the checkpoint to evaluate. Without
    ``ckpt_path`` it ends the command with one line, before Hydra creates any folder."""
    if not ckpt_path:
        sys.exit(NO_CHECKPOINT)
    return run_dir(ckpt_path)


OmegaConf.register_new_resolver("eval_run_dir", output_dir_of, replace=True)


def data_config(cfg: DictConfig, run: Path) -> DictConfig:
    """``cfg.data`` when given (``+data=<name>``), else the training run's data config."""
    if cfg.get("data") is not None:
        data = cfg.data
    elif (run / "config_resolved.yaml").exists():
        data = OmegaConf.load(run / "config_resolved.yaml").data
    else:
        raise ConfigError(
            f"no config_resolved.yaml in {run} (the checkpoint's run folder) to take the data "
            f"from; name the dataset with +data=<fashion_mnist|mnist|cifar10|celeba|image_folder>"
        )
    if cfg.get("data_dir"):
        data = OmegaConf.merge(data, {"data_dir": cfg.data_dir})
    return data


def aug_baseline(cfg: DictConfig, model: pl.LightningModule) -> Callable | None:
    """a(x) of the AUG row: ``cfg.aug_baseline``, else the model's own augmenter (a VAE has
    none: no AUG row)."""
    if cfg.get("aug_baseline") is not None:
        return instantiate(cfg.aug_baseline).to(model.device)
    return getattr(model, "augmenter", None)


def fmt(results: dict[str, Any], key: str) -> str:
    if key not in results:
        return ""
    std = results.get(f"{key}_std")
    return f"{results[key]:.4g} ± {std:.2g}" if std is not None else f"{results[key]:.4g}"


def results_table(results: dict[str, Any], dataset: str, row: str) -> str:
    """Markdown: our model, our AUG baseline, and the paper's rows for the same dataset."""
    ours_aug = {k.removeprefix("aug_"): v for k, v in results.items() if k.startswith("aug_")}
    rows = [(f"ours: {row}", results), ("ours: AUG", ours_aug)]
    rows += [
        (f"paper: {name}", PAPER[(dataset, name)])
        for name in (row, "aug")
        if (dataset, name) in PAPER
    ]
    lines = [
        "| | " + " | ".join(COLUMNS.values()) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
        *("| " + name + " | " + " | ".join(fmt(r, k) for k in COLUMNS) + " |" for name, r in rows),
    ]
    note = (
        f"\n{dataset}, features: {results['features']} ({results['feature_extractor']}); "
        f"{results.get('num_samples', 0)} generated and {results.get('num_test', 0)} test images; "
        f"RMSE (image L2) = mean over images of ||x - y||_2 on pixels in [0, 1] (the paper's "
        f"RMSE); RMSE (per pixel) = sqrt(mean squared pixel error), pixels in [0, 1]."
    )
    if "no_rid" in results:
        note += f" {results['no_rid'][0].upper()}{results['no_rid'][1:]}."
    if results["features"] != "inception":
        note += " Not comparable to the paper's numbers, which use Inception features."
    return "\n".join(lines) + "\n" + note + "\n"


def write_figures(
    model: pl.LightningModule, test_images: torch.Tensor, out: Path, cfg: DictConfig
) -> None:
    """Sample, reconstruction and interpolation grids (fixed seed; samples only from a model
    without an encoder) and nothing else."""
    g = torch.Generator().manual_seed(cfg.metrics.seed)
    z = torch.randn(cfg.figures.n_samples, model.latent_dim, generator=g)
    save_image(sample_grid(model.sample(0, z)), out / "samples.png")
    if not model.can_reconstruct:
        return
    x = test_images[: cfg.figures.n_reconstructions].to(model.device)
    save_image(reconstruction_grid(x, model.reconstruct(x)), out / "reconstructions.png")
    k = cfg.figures.n_interpolations
    path = model.interpolate(test_images[:k], test_images[k : 2 * k], steps=cfg.figures.steps)
    save_image(interpolation_grid(path), out / "interpolations.png")


def check_finite_weights(model: pl.LightningModule, path: str) -> None:
    """Refuse a model whose parameters or buffers hold NaN or Inf: its samples would be
    scored as if they were images."""
    bad = [
        name
        for name, t in (*model.named_parameters(), *model.named_buffers())
        if t.is_floating_point() and not torch.isfinite(t).all()
    ]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise NonFiniteError(
            f"{path}: non-finite weights in {', '.join(bad[:3])}{more}: the model cannot be "
            f"evaluated (a run stopped by a NaN loss keeps its last finite checkpoint)"
        )


def figure_images(cfg: DictConfig) -> int:
    """The test images the figures show: the reconstructions', two per interpolation."""
    return max(cfg.figures.n_reconstructions, 2 * cfg.figures.n_interpolations)


def check_figure_images(cfg: DictConfig, available: int) -> None:
    """Refuse figures that need more test images than the test set holds, before any work."""
    if figure_images(cfg) > available:
        f = cfg.figures
        raise ConfigError(
            f"figures.n_reconstructions={f.n_reconstructions}, figures.n_interpolations="
            f"{f.n_interpolations}: the figures need {figure_images(cfg)} test images (two per "
            f"interpolation), the test set has {available}"
        )


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` and write every output; returns the metrics."""
    check_evaluate(cfg)  # bad settings fail before anything is loaded
    metrics = metrics_config(cfg.metrics)
    out = Path(cfg.output_dir)
    claim(out, None, RESULTS)  # one writer at a time (released when the process ends)
    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    checkpoint = load_checkpoint(cfg.ckpt_path, map_location=device)  # read once
    trusted = [*recorded_for(cfg.ckpt_path), *cfg.trusted]  # the run's and this command's
    model = module_from_checkpoint(checkpoint, map_location=device, trusted=trusted).eval()
    check_finite_weights(model, cfg.ckpt_path)
    augmenter = aug_baseline(cfg, model)
    run = Path(run_dir(cfg.ckpt_path))
    datamodule = instantiate(data_config(cfg, run))
    datamodule.prepare_data()
    datamodule.setup("test")
    check_figure_images(cfg, len(datamodule.test_set))

    results: dict[str, Any] = compute_metrics(model, datamodule, metrics, augmenter)
    bad = sorted(k for k, v in results.items() if isinstance(v, float) and not math.isfinite(v))
    if bad:
        raise NonFiniteError(
            f"non-finite {', '.join(bad)} for {cfg.ckpt_path}: nothing written (metrics.json "
            f"holds strict JSON); check the metrics settings and the model's samples"
        )
    row = row_name(run)
    results |= {
        "checkpoint": str(Path(cfg.ckpt_path).resolve()),
        "global_step": checkpoint["global_step"],
        "dataset": datamodule.name,
        "row": row,
    }
    (out / "metrics.json").write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    (out / "results.md").write_text(results_table(results, datamodule.name, row))

    test_images = first_images(datamodule.test_set, figure_images(cfg))
    write_figures(model, test_images, out, cfg)
    if "rid" in results:
        points = {f"ours: {row}": (results["l2_image"], results["rid"])}
        if "aug_rid" in results:
            points["ours: AUG"] = (results["aug_l2_image"], results["aug_rid"])
        for name in (row, "aug", "vae"):
            paper = PAPER.get((datamodule.name, name), {})
            if "l2_image" in paper:
                points[f"paper: {name}"] = (paper["l2_image"], paper["rid"])
        title = f"{datamodule.name}, {results['features']} features"
        rmse_rid_scatter(points, out / "rmse_vs_rid.png", title)
    log.info("wrote %s", out)
    return results


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt_path"):  # hydra.run.dir given, so no resolver ran
        sys.exit(NO_CHECKPOINT)
    try:
        with bugs_reported(log):
            results = evaluate(cfg)
    except UserError as err:
        exit_with(err, log)
    print((Path(cfg.output_dir) / "results.md").read_text())
    print(json.dumps({k: v for k, v in results.items() if isinstance(v, float)}, indent=1))


if __name__ == "__main__":
    main()
