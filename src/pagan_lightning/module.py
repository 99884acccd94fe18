"""PAGAN as a LightningModule: Algorithm 1 of the paper with manual optimisation.

Networks, augmenter, objective and optimizers all come from config specs (``_target_``
mappings) so that a checkpoint holds plain hyper-parameters and ``PAGAN.load_from_checkpoint``
rebuilds the model with nothing else.
"""

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from pagan_lightning import algorithm
from pagan_lightning.checkpoint import ExactResume
from pagan_lightning.compat import uncount_optimizer_steps
from pagan_lightning.data.base import images_of
from pagan_lightning.errors import ConfigError, NonFiniteLossError
from pagan_lightning.inference import LatentVariableModel
from pagan_lightning.nets.encoder import Encoder
from pagan_lightning.nets.pair import pair_match

# every loss a batch can log, in the order of the non-finite bit mask
LOSSES = ("d_x", "d_z", "d_pair", "gp_x", "gp_z", "gp_pair", "g", "e", "rec")


class PAGAN(ExactResume, LatentVariableModel, pl.LightningModule):
    """Pairwise Augmented GAN: generator G, Gaussian encoder E and three discriminators.

    Per training batch x (Algorithm 1): z ~ p(z), z_hat ~ q(z|x), x_prior = G(z),
    x_rec = G(z_hat), x_aug = a(x); then

    - D_x plays x vs x_prior (generator matching, eq. 5),
    - D_z plays z vs z_hat (encoder matching, eq. 6),
    - D_xx plays the real pair (x, x_aug) vs the fake pair (x, x_rec) (eq. 11),

    and G, E minimise the non-saturating losses L_g and L_e. Each batch makes one
    discriminator step on the three games (samples detached), then one generator/encoder step
    against the updated discriminators that reuses the same samples, as in Lightning's GAN
    example. With ``n_dis > 1`` the generator/encoder is updated on every ``n_dis``-th batch
    only (counted across epochs and resumes); ``global_step`` counts generator updates.

    Args:
        generator, encoder, disc_x, disc_z, disc_pair, augmenter, objective: config specs
            (mappings with ``_target_``) of the parts.
        optimizer_g: partial optimizer spec for the generator and encoder parameters.
        optimizer_d: partial optimizer spec for the three discriminators.
        lr_schedule: optional partial spec of a learning-rate scheduler, one per optimizer,
            stepped once per generator/encoder update (``conf/model/lr_schedule/linear.yaml``:
            linear decay to 0 at ``trainer.max_steps``); ``None``: constant learning rates,
            as in the paper.
        n_dis: discriminator updates per generator/encoder update.
        reconstruction: optional spec of a pixel reconstruction term ``(x, x_rec) -> loss``
            added to L_g and L_e (PAGAN-L1, with ``disc_pair=None``).
        gradient_penalty: optional spec of a penalty ``(critic, real, fake) -> loss`` added to
            each discriminator loss (WPAGAN).
        on_non_finite: a NaN / Inf loss either stops training with
            :class:`~pagan_lightning.errors.NonFiniteLossError` naming the step and the game
            (``raise``; checkpoints already written stay as they are), or skips that update and
            counts it in ``train/skipped_updates`` (``skip``). ``raise`` costs no host
            synchronisation per batch: the losses are checked on the device, and the result is
            read every ``check_finite_every`` generator steps, before each checkpoint is
            written and at the end of training (so the error comes at most that many steps
            late, and no checkpoint ever holds the diverged weights). ``skip`` must decide
            before each update, which reads one flag from the device per phase.
        check_finite_every: generator steps between two reads of the non-finite flag
            (``on_non_finite=raise``).
        channels_last: keep the networks' weights and the images in NHWC memory layout (faster
            convolutions on tensor-core GPUs).
        compile: ``torch.compile`` each network (not this module) before training: ``True``,
            or the keyword arguments of ``torch.compile``, e.g. ``{mode: max-autotune}``.

    Discriminator outputs are cast to fp32 before the losses, and spectral normalisation runs
    in fp32 (:mod:`pagan_lightning.nets.spectral`), so that ``trainer.precision=bf16-mixed``
    lowers the precision of the networks' matmuls and convolutions only.

    The variants of the paper are configs of this class: PAGAN-L1 drops ``disc_pair`` and adds
    ``reconstruction``, PAGAN-NOAUG uses the identity augmenter, WPAGAN swaps ``objective`` and
    adds ``gradient_penalty``, f-PAGAN swaps ``objective``.

    Checkpoints carry the random generators' states (:class:`ExactResume`), so a run resumed
    with ``ckpt_path`` continues exactly as the uninterrupted run would have.
    """

    def __init__(
        self,
        generator: Mapping,
        encoder: Mapping,
        disc_x: Mapping,
        disc_z: Mapping,
        disc_pair: Mapping | None,
        augmenter: Mapping,
        objective: Mapping,
        optimizer_g: Mapping,
        optimizer_d: Mapping,
        lr_schedule: Mapping | None = None,
        n_dis: int = 1,
        reconstruction: Mapping | None = None,
        gradient_penalty: Mapping | None = None,
        on_non_finite: Literal["raise", "skip"] = "raise",
        check_finite_every: int = 100,
        channels_last: bool = False,
        compile: bool | Mapping = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator: nn.Module = instantiate(generator)
        self.encoder: Encoder = instantiate(encoder)
        self.disc_x: nn.Module = instantiate(disc_x)
        self.disc_z: nn.Module = instantiate(disc_z)
        self.disc_pair: nn.Module | None = instantiate(disc_pair) if disc_pair else None
        self.augmenter: nn.Module = instantiate(augmenter)
        self.objective = instantiate(objective)
        self.reconstruction = instantiate(reconstruction) if reconstruction else None
        self.gradient_penalty = instantiate(gradient_penalty) if gradient_penalty else None
        self.latent_dim: int = self.encoder.latent_dim
        if on_non_finite not in ("raise", "skip"):
            raise ValueError(f"on_non_finite must be 'raise' or 'skip', got {on_non_finite!r}")
        # discriminator steps so far (checkpointed): G/E update when it is a multiple of n_dis
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))
        # updates skipped for a non-finite loss (on_non_finite="skip"), checkpointed
        self.register_buffer("skipped_updates", torch.zeros((), dtype=torch.long))
        # on_non_finite="raise", kept on the device: the batch (d_steps) of the first non-finite
        # loss (0: none yet) and the bit mask of its losses (LOSSES), read every few steps
        zero = torch.zeros((), dtype=torch.long)
        self.register_buffer("first_non_finite", zero.clone(), persistent=False)
        self.register_buffer("non_finite_losses", zero.clone(), persistent=False)
        self._d_steps = 0  # Python mirror of d_steps, set in on_train_start
        self._speed_options_applied = False

    # ---------------------------------------------------------------- optimisation
    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.generator.parameters(), *self.encoder.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [p for net in self.games().values() for p in net.parameters()]

    def games(self) -> dict[str, nn.Module]:
        """The discriminators of this model by game: ``x``, ``z`` and (if any) ``pair``."""
        games = {"x": self.disc_x, "z": self.disc_z}
        if self.disc_pair is not None:
            games["pair"] = self.disc_pair
        return games

    def make_optimizers(self) -> list[torch.optim.Optimizer]:
        """``[opt_g, opt_d]``: the generator/encoder's and the discriminators' optimizers."""
        make_g: Callable = instantiate(self.hparams.optimizer_g)
        make_d: Callable = instantiate(self.hparams.optimizer_d)
        return [make_g(self.generator_parameters()), make_d(self.discriminator_parameters())]

    def configure_optimizers(self) -> Any:
        """:meth:`make_optimizers`, and with ``lr_schedule`` also a scheduler of each."""
        optimizers = self.make_optimizers()
        if self.hparams.lr_schedule is None:
            return optimizers
        schedule: Callable = instantiate(self.hparams.lr_schedule)
        return optimizers, [schedule(optimizer) for optimizer in optimizers]

    def configure_model(self) -> None:
        """Apply ``channels_last`` and ``compile`` once; Lightning calls this hook before the
        strategy wraps the module (DDP), and :mod:`pagan_lightning.cli.bench` calls it too."""
        if self._speed_options_applied:
            return
        self._speed_options_applied = True
        if self.hparams.channels_last:
            self.to(memory_format=torch.channels_last)
        if self.hparams.compile:
            options = {} if self.hparams.compile is True else dict(self.hparams.compile)
            for net in (self.generator, self.encoder, *self.games().values()):
                net.compile(**options)

    def on_train_start(self) -> None:
        """Restore the RNG states of a resumed run, or give each DDP rank its own stream
        (:class:`ExactResume`), and mirror the checkpointed ``d_steps`` buffer in a Python int,
        so that the n_dis schedule costs no device-to-host copy per batch."""
        super().on_train_start()
        self._d_steps = int(self.d_steps)

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x = images_of(batch)
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        opt_g, opt_d = self.optimizers()
        uncount_optimizer_steps(opt_d, self.trainer)  # global_step = G/E updates
        update_g = self._d_steps % self.hparams.n_dis == 0
        self._d_steps += 1
        self.d_steps += 1

        # Algorithm 1 (pagan_lightning.algorithm): draw, step D on the three games, then
        # step G and E against the updated discriminators, reusing the same samples
        with torch.set_grad_enabled(update_g):
            samples = algorithm.draw_samples(self, x)
        losses, loss_d = algorithm.discriminator_losses(self, samples)
        if self._finite(losses, "discriminator"):
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()

        if update_g:
            # Toggling opt_g freezes the discriminators (requires_grad=False) so that they
            # stay out of this graph: under DDP the reducer then finds them unused instead of
            # waiting for their gradients.
            self.toggle_optimizer(opt_g)
            losses_g, loss_g = algorithm.generator_losses(self, samples)
            losses |= losses_g
            opt_g.zero_grad(set_to_none=True)
            if self._finite(losses_g, "G/E"):
                self.manual_backward(loss_g)
            # a skipped update steps with no gradients: parameters and Adam state stay as
            # they are, but the step counts, so max_steps still ends the run
            opt_g.step()
            self.untoggle_optimizer(opt_g)
            if self.hparams.lr_schedule is not None:
                for scheduler in self.lr_schedulers():
                    scheduler.step()

        # not prog_bar=True, which copies each value to the host after every batch: loggers
        # read them every log_every_n_steps, callbacks.LossProgressBar when it refreshes
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, on_step=True)
        if self.hparams.on_non_finite == "skip":
            self.log("train/skipped_updates", self.skipped_updates.float(), on_step=True)

    def _finite(self, losses: dict[str, torch.Tensor], phase: str) -> bool:
        """Whether to take this update. ``skip``: False when a loss is non-finite on any rank
        (one all-reduce and one host copy, so that all ranks take the same branch: a rank
        that skipped a backward pass would leave the others waiting in the gradient
        all-reduce), counted in ``skipped_updates``. ``raise``: always True, without leaving
        the device; the first non-finite batch and its losses are recorded for
        :meth:`check_finite`.
        """
        bad = torch.stack([~torch.isfinite(v).all() for v in losses.values()])
        if self.hparams.on_non_finite == "raise":
            mask = sum(b.long() << LOSSES.index(k) for k, b in zip(losses, bad, strict=True))
            first = (self.first_non_finite == 0) & (mask > 0)
            self.first_non_finite.copy_(torch.where(first, self.d_steps, self.first_non_finite))
            self.non_finite_losses.copy_(torch.where(first, mask, self.non_finite_losses))
            return True
        if self.trainer.strategy.reduce(bad.sum(), reduce_op="sum"):
            self.skipped_updates += 1
            return False
        return True

    def check_finite(self) -> None:
        """Raise :class:`~pagan_lightning.errors.NonFiniteLossError` if a loss was NaN / Inf
        since the start (``on_non_finite=raise``), naming the first such batch's losses and
        generator step. Reads the device flag once (after an all-reduce under DDP, so that
        every rank raises together)."""
        if self.hparams.on_non_finite != "raise":
            return
        found = (self.first_non_finite > 0).long()
        with contextlib.suppress(RuntimeError):  # RuntimeError: no Trainer (a save by hand)
            found = self.trainer.strategy.reduce(found, reduce_op="sum")
        if not found:
            return
        batch, mask = int(self.first_non_finite), int(self.non_finite_losses)
        where = "on another rank"
        if batch:
            names = [name for i, name in enumerate(LOSSES) if mask >> i & 1]
            phase = "G/E" if names[0] in ("g", "e", "rec") else "discriminator"
            n_dis = self.hparams.n_dis
            step = (batch - 1 + n_dis - 1) // n_dis  # generator updates before that batch
            where = f"{phase} loss {', '.join(names)} at generator step {step} (batch {batch})"
        raise NonFiniteLossError(
            f"non-finite {where}, found at generator step {self.global_step}; "
            f"training stopped, the checkpoints written so far are kept (none is written "
            f"after it). model.on_non_finite=skip skips such updates instead."
        )

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # every check_finite_every generator steps = that many times n_dis batches (counting
        # batches reads once, where global_step stays on a multiple for n_dis batches)
        if self._d_steps % (self.hparams.check_finite_every * self.hparams.n_dis) == 0:
            self.check_finite()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_finite()
        super().on_save_checkpoint(checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to resume under another learning-rate schedule than the checkpoint's: the
        schedulers' state (``total_iters`` too) would come from the checkpoint, or be missing
        from it, and the rates would silently differ from the configured ones."""
        super().on_load_checkpoint(checkpoint)
        if "optimizer_states" not in checkpoint:  # weights only: nothing to resume
            return
        saved = checkpoint.get("lr_schedulers") or []
        configured = self.hparams.get("lr_schedule")
        if bool(saved) != (configured is not None):
            had, has = ("with" if x else "without" for x in (saved, configured is not None))
            raise ConfigError(
                f"the checkpoint was trained {had} a learning-rate schedule, this run is "
                f"configured {has} one: resume with the checkpoint's model/lr_schedule"
            )
        total = configured.get("total_iters") if configured is not None else None
        if saved and total is not None and saved[0].get("total_iters") != total:
            raise ConfigError(
                f"the checkpoint's learning-rate schedule ends at step "
                f"{saved[0].get('total_iters')}, this run's at {total} (it follows "
                f"trainer.max_steps): resume with the checkpoint's trainer.max_steps"
            )

    def on_train_end(self) -> None:
        self.check_finite()
        super().on_train_end()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """``val/rec_mse``: per-pixel squared error of G(mu(x)) against x, pixels in [-1, 1].

        ``val/pair_match``: how often D_xx ranks the real pair (x, a(x)) above a mismatched one
        (x, a(x')) (:func:`~pagan_lightning.nets.pair.pair_match`); near 0.5, D_xx judges y
        alone and the pair game of eq. (11) carries no information about x. The augmentations
        are drawn after seeding the global generators with ``batch_idx`` inside
        ``torch.random.fork_rng``, which restores them: the training's random stream is the
        same with and without validation.
        """
        x = images_of(batch)
        x_rec = self.generator(self.encoder(x)[0])
        self.log("val/rec_mse", F.mse_loss(x_rec, x), prog_bar=True, sync_dist=True)
        if self.disc_pair is not None:
            devices = [] if x.device.type == "cpu" else [x.device]
            with torch.random.fork_rng(devices=devices, device_type=x.device.type):
                torch.manual_seed(batch_idx)
                match = pair_match(self.disc_pair, x, self.augmenter)
            self.log("val/pair_match", match, sync_dist=True)
