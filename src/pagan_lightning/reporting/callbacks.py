"""Training callbacks: sample and reconstruction grids written every N generator steps, cheap
FID / IS / RID logged at validation, and a progress bar that shows the losses without a host
synchronisation per batch."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.loggers import TensorBoardLogger
from torchvision.utils import save_image

from pagan_lightning.data import first_images
from pagan_lightning.metrics import DistributedMetrics
from pagan_lightning.reporting.figures import reconstruction_grid, sample_grid


class LossProgressBar(TQDMProgressBar):
    """Lightning's TQDM progress bar plus the latest ``train/`` losses, copied from the device
    only when the bar refreshes (every ``refresh_rate`` batches). Logging the losses with
    ``prog_bar=True`` instead would make Lightning copy each one to the host after every
    batch, a stall of the GPU's queue per value."""

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        for name, value in trainer.callback_metrics.items():
            if name.startswith("train/"):
                items[name.removeprefix("train/")] = f"{value.item():.3g}"
        return items


class ImageGrids(pl.Callback):
    """Writes ``images/samples_<step>.png`` (fixed z) and ``images/reconstructions_<step>.png``
    (fixed test images and their reconstructions G(mu(x))) every ``every_n_steps`` generator
    steps and at the end of training; also logs them to TensorBoard when that logger is used.

    Args:
        dirpath: output folder of the PNG files.
        every_n_steps: interval in generator steps (``trainer.global_step``).
        n_samples: images in the sample grid.
        n_reconstructions: test images in the reconstruction grid.
        seed: seed of the fixed latent codes.
    """

    def __init__(
        self,
        dirpath: str,
        every_n_steps: int = 500,
        n_samples: int = 64,
        n_reconstructions: int = 32,
        seed: int = 0,
    ) -> None:
        self.dirpath = Path(dirpath)
        self.every_n_steps, self.n_samples, self.n_reconstructions = (
            every_n_steps,
            n_samples,
            n_reconstructions,
        )
        self.seed = seed
        self._z: torch.Tensor | None = None
        self._x: torch.Tensor | None = None
        self._last_step = -1

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self._z = torch.randn(self.n_samples, pl_module.latent_dim, generator=g)

    def _reference_images(self, trainer: pl.Trainer) -> torch.Tensor:
        """The first test images of the datamodule (else of the training data), fixed."""
        dataset = getattr(trainer.datamodule, "test_set", None)
        if dataset is None:
            dataset = trainer.train_dataloader.dataset
        return first_images(dataset, min(self.n_reconstructions, len(dataset)))

    def write(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = trainer.global_step
        if step == self._last_step or not trainer.is_global_zero:
            return
        self._last_step = step
        if self._x is None:
            self._x = self._reference_images(trainer)
        grids = {"samples": sample_grid(pl_module.sample(0, self._z))}
        if pl_module.can_reconstruct:
            x = self._x.to(pl_module.device)
            grids["reconstructions"] = reconstruction_grid(x, pl_module.reconstruct(self._x))
        self.dirpath.mkdir(parents=True, exist_ok=True)
        for name, grid in grids.items():
            save_image(grid, self.dirpath / f"{name}_{step:06d}.png")
            for logger in trainer.loggers:
                if isinstance(logger, TensorBoardLogger):
                    logger.experiment.add_image(f"images/{name}", grid, step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write(trainer, pl_module)


def use_rank_zero_buffers(*modules: torch.nn.Module) -> None:
    """Every process of the default process group takes rank 0's buffers of ``modules``
    (BatchNorm running statistics, spectral-norm vectors): the ones the checkpoints hold. DDP
    broadcasts them before each step anyway (``forward_sync_buffers: true``); without a process
    group, nothing happens."""
    if dist.is_available() and dist.is_initialized():
        for module in modules:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)


class FidelityMetrics(pl.Callback):
    """A cheap FID / IS / RID during training, logged as ``val/fid``, ``val/is``, ``val/rid``
    (and ``val/kid``, ``val/rmse_pixel``, ``val/l2_image``) at the end of every
    ``every_n_validations``-th validation, so that ``ModelCheckpoint(monitor="val/fid")`` can
    keep the best checkpoints.

    Every process evaluates its share of the images and the rows are gathered
    (:class:`~pagan_lightning.metrics.DistributedMetrics`), so the values equal
    ``pagan-evaluate``'s on one process for the same checkpoint and settings. Under DDP each
    process first takes rank 0's generator and encoder buffers (BatchNorm statistics, which
    the checkpoints hold). The feature extractor's weights are checked when fitting starts.
    Nothing draws from the training's random state, and the count of validations is saved in
    the checkpoints, so exact resume holds.

    Args:
        metrics: :class:`~pagan_lightning.metrics.MetricsConfig` fields; keep the counts small
            (a few thousand images) and prefer ``features: classifier`` on CPU.
        every_n_validations: compute at every n-th validation run.
    """

    NAMES = ("fid", "is", "kid", "rid", "rmse_pixel", "l2_image")

    def __init__(self, metrics: Mapping[str, Any], every_n_validations: int = 1) -> None:
        self.evaluate = DistributedMetrics(metrics)  # bad settings fail before training starts
        self.every_n_validations = every_n_validations
        self._validations = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":  # a missing weights file stops the run now, not at a validation
            self.evaluate.check_counts(trainer.world_size)
            self.evaluate.prepare(trainer.datamodule.name)

    def state_dict(self) -> dict[str, Any]:
        return {"validations": self._validations}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._validations = state_dict["validations"]

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._validations += 1
        if self._validations % self.every_n_validations:
            return
        use_rank_zero_buffers(
            *(m for m in (pl_module.generator, pl_module.encoder) if m is not None)
        )
        results = self.evaluate(pl_module, trainer.datamodule)
        for name in self.NAMES:
            if name in results:
                pl_module.log(f"val/{name}", float(results[name]), prog_bar=name in ("fid", "rid"))
