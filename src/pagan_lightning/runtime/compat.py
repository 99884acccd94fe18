"""Every use of a framework's private API, in this one module.

Each entry below does something no public API of the installed versions offers; each names
why, and ``tests/test_compat.py`` exercises each one against the installed framework, so that
an upgrade that changes them fails there, by name, instead of somewhere in a training run.

- :func:`uncount_optimizer_steps`: Lightning's ``LightningOptimizer._on_before_step`` hook.
- :func:`batches_done_in_epoch`: Lightning's ``fit_loop.epoch_loop.batch_progress``.
- :class:`ResumableCSVLogger`: Lightning's ``_ExperimentWriter._check_log_dir_exists`` and
  ``CSVLogger._experiment`` / ``_fs``.
- :class:`ResumableTensorBoardLogger`: torch's ``SummaryWriter._get_file_writer``.
- :class:`LastStepCheckpoint`: Lightning's ``ModelCheckpoint._last_global_step_saved``,
  ``_save_last_checkpoint`` and ``_monitor_candidates``.
- :func:`ddp_relaunches_this_job`: how Lightning's DDP launcher re-runs ``sys.argv`` under
  Hydra (``lightning_fabric.strategies.launchers.subprocess_script._hydra_subprocess_cmd``).
- :data:`SpectralNormParametrization`: torch's ``parametrizations._SpectralNorm``.
"""

import csv
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities.exceptions import SIGTERMException
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from torch.nn.utils.parametrizations import _SpectralNorm

# torch.nn.utils.parametrizations.spectral_norm registers this class; subclassing it is the
# only way to change how it runs (nets/spectral.py runs it outside autocast)
SpectralNormParametrization = _SpectralNorm


def uncount_optimizer_steps(optimizer: Any, trainer: pl.Trainer) -> None:
    """Stop a LightningOptimizer's steps from advancing ``trainer.global_step``.

    Lightning counts every ``optimizer.step()`` of a manual-optimisation module in
    ``global_step`` (Lightning-AI/pytorch-lightning#17958, no public switch), which would make
    ``max_steps`` count discriminator and generator updates together. The discriminator
    optimizer keeps the profiler bracketing but not the count, so ``global_step`` ==
    generator updates.
    """
    optimizer._on_before_step = lambda: trainer.profiler.start("optimizer_step")
    optimizer._on_after_step = lambda: trainer.profiler.stop("optimizer_step")


def batches_done_in_epoch(trainer: pl.Trainer) -> int:
    """Training batches processed so far in the current epoch (Lightning saves this count in
    its loop state, but has no public accessor for it)."""
    return trainer.fit_loop.epoch_loop.batch_progress.current.processed


class _AppendingExperimentWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv``, taking its columns as the known keys, where
    Lightning's writer deletes the file (its ``_check_log_dir_exists``). The first step this
    writer logs is where its run resumed: the rows of an earlier attempt from that step on,
    which the resumed run logs again, are dropped first, so that every step is there once."""

    _resumed = False

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = list(csv.DictReader(file).fieldnames or [])

    def log_metrics(self, metrics_dict: dict[str, float], step: int | None = None) -> None:
        if not self._resumed and step is not None:
            self._drop_rows_from(step)
        self._resumed = True
        super().log_metrics(metrics_dict, step)

    def _drop_rows_from(self, step: int) -> None:
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            reader = csv.DictReader(file)
            fields, rows = reader.fieldnames or [], list(reader)
        kept = [row for row in rows if not row.get("step") or int(float(row["step"])) < step]
        if len(kept) < len(rows):
            with self._fs.open(self.metrics_file_path, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept)


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` grows across resumes of the same run.

    Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it opens its folder, so
    a run resumed into its own output dir would lose the log of every step before the resume.
    Rows that the attempt that was killed logged after the checkpoint a run resumed from are
    replaced by the resumed run's, so every step is logged once.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment


class ResumableTensorBoardLogger(TensorBoardLogger):
    """``TensorBoardLogger`` of a run resumed in its own folder: the events that the attempt
    that was stopped wrote from the resumed step on are hidden, so that TensorBoard shows each
    step once, with the resumed run's values.

    At the first positive step it logs (a resume's checkpoint step), it writes the
    session-start event that ``SummaryWriter(purge_step=...)`` writes: TensorBoard's readers
    drop the earlier events of that step and later."""

    _purged = False

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if not self._purged and step:  # (the hp_metric placeholder is logged at step 0)
            start = Event(step=step, session_log=SessionLog(status=SessionLog.START))
            self.experiment._get_file_writer().add_event(start)
            self._purged = True
        super().log_metrics(metrics, step)


# set by Lightning's DDP launcher in the launching process
DDP_ENVIRON = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


class LastStepCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` whose ``last.ckpt`` also holds the final step.

    Lightning writes ``last.ckpt`` at the end of training only if no ``last.ckpt`` was written
    before, so with ``every_n_train_steps`` the steps after the last multiple were lost
    (``max_steps=4500`` saved every 1,000: the final 500). With ``save_last=True`` this writes
    it once more when training ends after the latest save (``save_last="link"`` would link
    ``last.ckpt`` to the older file instead, so it is left as Lightning's), and when SIGTERM
    stops training."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self._save_last_if_behind(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """On SIGTERM (what schedulers send before they kill a job; Lightning stops the loop
        after the current batch with ``SIGTERMException``), also write ``last.ckpt`` at this
        step, so that ``ckpt_path=last`` loses nothing. Other exceptions write nothing (a
        non-finite loss must not overwrite the last good checkpoint)."""
        if isinstance(exception, SIGTERMException):
            self._save_last_if_behind(trainer)

    def _save_last_if_behind(self, trainer: pl.Trainer) -> None:
        if self.save_last is True and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


@contextmanager
def ddp_relaunches_this_job() -> Iterator[None]:
    """Under a Hydra multirun, make Lightning's DDP launcher start this job in ranks 1.., not
    the whole sweep again.

    Lightning starts the other ranks of a single node by re-running ``sys.argv`` with
    ``hydra.run.dir=<hydra.run.dir>`` appended (``lightning_fabric``'s
    ``_hydra_subprocess_cmd``; no option changes what it runs). In a multirun, ``sys.argv``
    holds the sweep (``-m a=1,2``) and ``run.dir`` is not the job's folder; for the duration
    of the fit, ``sys.argv`` becomes this job's overrides and ``run.dir`` this job's output
    dir, so that every rank runs this one job and writes to its folder. Afterwards the process
    group and the launcher's environment variables (``LOCAL_RANK`` among them) are cleared, so
    that the next job of the sweep launches its own ranks.
    """
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        yield
        return
    hydra_cfg = HydraConfig.get()
    argv, run_dir = sys.argv, hydra_cfg.run.dir
    environ = {name: os.environ.get(name) for name in DDP_ENVIRON}
    sys.argv = [argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    try:
        yield
    finally:
        sys.argv = argv
        with read_write(hydra_cfg):
            hydra_cfg.run.dir = run_dir
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for name, value in environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
