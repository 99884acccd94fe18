"""The steady-state training step reads nothing from the device (issue #11): on a GPU each such
read (``.item()``, ``bool(tensor)``, ``.tolist()``, ...) stalls the host until the queued
kernels finish. Counted here on the CPU by wrapping the Tensor methods that copy to the host."""

from collections import defaultdict
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.runtime.configs import instantiate_all, instantiate_model
from tests.helpers.configs import TINY, compose_train

HOST_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__")
EVERY = 10  # log_every_n_steps, the progress bar's refresh_rate and check_finite_every


class HostReads(pl.Callback):
    """Counts host reads per batch, from one batch's start to the next one's (so a batch's
    count includes its end hooks: callbacks, progress bar, loggers). Adam's ``step`` counters
    are left out: Adam keeps them on the host (unless ``capturable`` or ``fused``), so reading
    them costs no synchronisation on a GPU either."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.per_batch: dict[int, int] = defaultdict(int)
        self.batch = -1
        self.host_side: set[int] = set()
        for name in HOST_READS:
            monkeypatch.setattr(torch.Tensor, name, self._counted(getattr(torch.Tensor, name)))

    def _counted(self, method):
        def wrapper(tensor, *args, **kwargs):
            if id(tensor) not in self.host_side:
                self.per_batch[self.batch] += 1
            return method(tensor, *args, **kwargs)

        return wrapper

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batch = batch_idx
        self.host_side = {
            id(state["step"]) for opt in trainer.optimizers for state in opt.state.values()
        }

    def on_train_end(self, trainer, pl_module) -> None:
        self.batch = -1


def host_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str]):
    cfg = compose_train(
        [
            *TINY,
            f"trainer.log_every_n_steps={EVERY}",
            f"callbacks.progress_bar.refresh_rate={EVERY}",
            f"model.check_finite_every={EVERY}",
            *overrides,
        ],
        tmp_path,
    )
    model = instantiate_model(cfg)
    counter = HostReads(monkeypatch)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        accelerator="cpu",
        max_steps=3 * EVERY,
        limit_val_batches=0,
        enable_model_summary=False,
        callbacks=[*instantiate_all(cfg.callbacks), counter],
        logger=instantiate_all(cfg.logger),
    )
    data = DataLoader(TensorDataset(torch.rand(16 * 3 * EVERY, 1, 32, 32) * 2 - 1), batch_size=16)
    trainer.fit(model, data)
    return counter.per_batch


def test_the_default_step_reads_nothing_from_the_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default config (progress bar, CSV and TensorBoard loggers, checkpoints, image grids,
    on_non_finite=raise): the batches between two logging / refresh / check steps make no
    host read at all; those steps make a few (the logged values)."""
    per_batch = host_reads(tmp_path, monkeypatch, [])
    quiet = [b for b in range(1, 3 * EVERY) if (b + 1) % EVERY and b % EVERY]
    assert {b: per_batch[b] for b in quiet} == dict.fromkeys(quiet, 0)
    assert all(per_batch[b] > 0 for b in range(EVERY - 1, 3 * EVERY, EVERY))  # positive control


def test_skip_mode_reads_one_flag_per_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """on_non_finite=skip must decide before each update: one read per phase."""
    per_batch = host_reads(tmp_path, monkeypatch, ["model.on_non_finite=skip"])
    assert all(per_batch[b] >= 2 for b in range(1, 3 * EVERY))
