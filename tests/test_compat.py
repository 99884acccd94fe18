"""The private framework APIs of :mod:`pagan_lightning.runtime.compat`, each against the installed
framework: an upgrade that changes one fails here, by name."""

import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning_fabric.strategies.launchers.subprocess_script import _hydra_subprocess_cmd
from omegaconf import open_dict
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.runtime import compat
from pagan_lightning.runtime.configs import config_dir
from tests.helpers.configs import quiet_trainer
from tests.helpers.faults import tensorboard_scalars


class TwoOptimizers(pl.LightningModule):
    """Manual optimisation: two optimizer steps per batch, the first one uncounted; records
    :func:`compat.batches_done_in_epoch` after each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.a, self.b = nn.Linear(2, 1), nn.Linear(2, 1)
        self.done: list[int] = []

    def training_step(self, batch, batch_idx) -> None:
        opt_a, opt_b = self.optimizers()
        compat.uncount_optimizer_steps(opt_a, self.trainer)
        for opt, net in ((opt_a, self.a), (opt_b, self.b)):
            opt.zero_grad()
            self.manual_backward(net(batch[0]).pow(2).mean())
            opt.step()

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        self.done.append(compat.batches_done_in_epoch(self.trainer))

    def configure_optimizers(self):
        return [torch.optim.SGD(self.a.parameters()), torch.optim.SGD(self.b.parameters())]


def test_uncounted_steps_and_batches_done(tmp_path: Path) -> None:
    """global_step counts the counted optimizer only; the batch count restarts each epoch."""
    model = TwoOptimizers()
    data = DataLoader(TensorDataset(torch.rand(12, 2)), batch_size=4)  # 3 batches an epoch
    trainer = quiet_trainer(tmp_path, max_steps=5)
    trainer.fit(model, data)
    assert trainer.global_step == 5
    assert model.done == [1, 2, 3, 1, 2]


@pytest.mark.parametrize(
    ("callback", "last_step"),
    [(ModelCheckpoint, 4), (compat.LastStepCheckpoint, 5)],  # Lightning's loses step 5
)
def test_last_checkpoint_holds_the_final_step(
    callback: type[ModelCheckpoint], last_step: int, tmp_path: Path
) -> None:
    """5 steps saved every 2: Lightning's last.ckpt stops at step 4 (if this changes, the
    subclass is no longer needed); LastStepCheckpoint's holds step 5."""
    data = DataLoader(TensorDataset(torch.rand(12, 2)), batch_size=4)
    checkpoints = callback(dirpath=tmp_path / "ckpt", every_n_train_steps=2, save_last=True)
    trainer = quiet_trainer(
        tmp_path, max_steps=5, enable_checkpointing=True, callbacks=[checkpoints]
    )
    trainer.fit(TwoOptimizers(), data)
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["global_step"] == (
        last_step
    )


def test_resumable_csv_logger_keeps_the_earlier_rows(tmp_path: Path) -> None:
    for start in (0, 3):  # a run, then its resume into the same folder
        logger = compat.ResumableCSVLogger(tmp_path, name="csv", version="")
        for step in range(start, start + 3):
            logger.log_metrics({"loss": float(step)}, step=step)
        logger.save()
    lines = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert lines[0].split(",") == ["loss", "step"] and len(lines) == 7


def test_resumable_tensorboard_logger_shows_each_step_once(tmp_path: Path) -> None:
    """An attempt logs steps 0-5 and stops; the resume from step 3 logs 3-6 in the same
    folder: TensorBoard shows 0-2 of the first attempt and 3-6 of the resume, once each."""
    for first, stop, value in ((0, 6, 1.0), (3, 7, 2.0)):
        logger = compat.ResumableTensorBoardLogger(tmp_path, name="tb", version="")
        logger.log_hyperparams({"lr": 0.1})  # logs hp_metric at step 0
        for step in range(first, stop):
            logger.log_metrics({"loss": value + step}, step)
        logger.finalize("success")
    shown = tensorboard_scalars(tmp_path / "tb", "loss")
    assert shown == {s: [(1.0 if s < 3 else 2.0) + s] for s in range(7)}


def test_ddp_relaunch_runs_this_job_into_its_folder(tmp_path: Path, monkeypatch) -> None:
    """Lightning's launcher re-runs ``sys.argv[1:]`` plus ``hydra.run.dir``: inside
    :func:`compat.ddp_relaunches_this_job` that is this job's overrides and folder, after it
    the sweep's command line again."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=["seed=3"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.runtime.output_dir = str(tmp_path / "sweep" / "0")
        cfg.hydra.job.num = 0
    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)  # restored after the test
    HydraConfig.instance().set_config(cfg)
    monkeypatch.setattr(sys, "argv", ["pagan-train", "-m", "seed=3,4"])
    with compat.ddp_relaunches_this_job():
        command, _ = _hydra_subprocess_cmd(local_rank=1)
    assert command[-4:-2] == ["seed=3", f'hydra.run.dir="{tmp_path / "sweep" / "0"}"']
    assert "seed=3,4" not in command
    assert sys.argv == ["pagan-train", "-m", "seed=3,4"]


def test_spectral_norm_parametrization_is_torchs() -> None:
    layer = spectral_norm(nn.Linear(3, 2))
    assert type(layer.parametrizations.weight[0]) is compat.SpectralNormParametrization
