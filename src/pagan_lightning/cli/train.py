"""Hydra entry point: ``pagan-train [overrides]`` (= ``python -m pagan_lightning.cli.train``).

Builds the datamodule, the PAGAN module, callbacks, loggers and the Trainer from ``conf/``
and fits. ``trainer.max_steps`` counts generator/encoder updates.
"""

import logging
import signal
import sys
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

from pagan_lightning.augment import check_augmenter
from pagan_lightning.runtime import rundir
from pagan_lightning.runtime.compat import ddp_relaunches_this_job
from pagan_lightning.runtime.configs import (
    automatic_precision,
    config_dir,
    instantiate_all,
    instantiate_model,
)
from pagan_lightning.runtime.errors import ConfigError, UserError, bugs_reported, exit_with
from pagan_lightning.runtime.validate import check_config

log = logging.getLogger(__name__)


@rank_zero_only
def claim_run_dir(output_dir: Path, ckpt_path: str | None) -> None:
    """:func:`pagan_lightning.runtime.rundir.claim` on rank 0 (the other ranks of a DDP run are
    started by rank 0 into its folder)."""
    rundir.claim(output_dir, ckpt_path)


@rank_zero_only
def save_config(cfg: DictConfig, output_dir: Path) -> None:
    """``<output_dir>/config_resolved.yaml``, written by rank 0 only; a resume keeps the first
    attempt's and writes its own beside it, ``config_resolved.resume<N>.yaml``. A new run
    replaces the file of an attempt that stopped before its first step (the folder held no run,
    :func:`pagan_lightning.runtime.rundir.check_folder`)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "config_resolved.yaml"
    n = 1
    while path.exists() and rundir.holds_run(output_dir):
        path = output_dir / f"config_resolved.resume{n}.yaml"
        n += 1
    OmegaConf.save(cfg, path, resolve=True)


def resume_point(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint that ``cfg.ckpt_path`` resumes from: for ``last``, ``last.ckpt``, with
    the temporary files of a kill while it was rewritten removed. (A newer ``step_<N>.ckpt``
    may exist then; resuming from it would lose the log row of step N - 1, which Lightning
    writes after that checkpoint, so the run goes back to ``last.ckpt`` and computes those
    steps again, exactly.) A run that logged steps but saved no checkpoint starts again from
    step 0, its log kept aside as ``csv/metrics.attempt<N>.csv``; with no ``last.ckpt``
    otherwise it stops instead of starting afresh (Lightning would warn and train from
    scratch)."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path != "last":
        return ckpt_path
    default = str(output_dir / "checkpoints")
    folder = Path(OmegaConf.select(cfg, "callbacks.model_checkpoint.dirpath", default=default))
    last = folder / "last.ckpt"
    if rank_zero_only.rank != 0:  # rank 0 has checked the folder and decided
        return str(last) if last.is_file() else None
    for temporary in folder.glob(".*.ckpt.tmp-*"):  # this process holds the folder's lock
        temporary.unlink()
    if last.is_file():
        return str(last)
    if not rundir.holds_run(output_dir) or any(folder.glob("*.ckpt")):
        raise ConfigError(
            f"ckpt_path=last: no {last} to resume from. Give the folder of the "
            f"run to resume with hydra.run.dir=<run folder>, or drop ckpt_path to start a new run"
        )
    kept = rundir.set_aside_log(output_dir)
    log.warning(
        "ckpt_path=last: %s logged steps but saved no checkpoint; training starts again from "
        "step 0%s",
        output_dir,
        f" (the earlier log: {kept})" if kept else "",
    )
    return None


def train(cfg: DictConfig) -> pl.Trainer:
    """Fit PAGAN as configured by ``cfg`` and return the trainer."""
    check_config(cfg)  # unknown keys, wrong types, bad values: before any work
    output_dir = Path(cfg.paths.output_dir)
    changed = rundir.changed_on_resume(cfg, output_dir)
    if changed:
        raise rundir.changes_refused(changed)
    claim_run_dir(output_dir, cfg.get("ckpt_path"))  # one writer; a used folder only resumed
    ckpt_path = resume_point(cfg, output_dir)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    save_config(cfg, output_dir)

    model = instantiate_model(cfg)  # sizes the networks cannot take fail here, before any data
    if getattr(model, "augmenter", None) is not None:  # the contract of a(x), before any data
        size, channels = cfg.data.image_size, cfg.data.channels
        images = torch.rand(8, channels, size, size, generator=torch.Generator().manual_seed(0))
        check_augmenter(model.augmenter, images * 2 - 1)
    datamodule: pl.LightningDataModule = instantiate(cfg.data)
    datamodule.prepare_data()  # fail on missing data before building the trainer
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=instantiate_all(cfg.get("callbacks")),
        logger=instantiate_all(cfg.get("logger")),
    )
    log.info("output dir: %s", output_dir)
    if (choice := automatic_precision(cfg)) is not None:
        log.info(choice)
    try:
        with ddp_relaunches_this_job():
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    finally:
        rundir.release(output_dir)
    return trainer


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Train; return ``cfg.optimized_metric`` (for Hydra's Optuna sweeper) when it is set."""
    try:
        with bugs_reported(log):
            trainer = train(cfg)
    except UserError as err:
        exit_with(err, log)
    except SIGTERMException:  # last.ckpt was written at the stopping step (LastStepCheckpoint)
        log.error(
            "stopped by SIGTERM; checkpoints/last.ckpt holds the last step: resume with the same "
            "command and ckpt_path=last"
        )
        sys.exit(128 + signal.SIGTERM)  # non-zero, as a scheduler's pre-emption expects
    if cfg.get("optimized_metric"):
        value = trainer.callback_metrics.get(cfg.optimized_metric)
        if value is None:
            known = sorted(trainer.callback_metrics)
            sys.exit(f"error: optimized_metric={cfg.optimized_metric} was not logged; {known}")
        return float(value)
    return None


if __name__ == "__main__":
    main()
