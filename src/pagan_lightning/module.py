"""PAGAN as a LightningModule: Algorithm 1 of the paper with manual optimisation.

Its parts come built (``PAGAN(generator=Generator(...), ...)``, as in Lightning's own
examples) or as config specs (mappings with ``_target_``, as Hydra gives them); a checkpoint
records the spec of each (:mod:`pagan_lightning.runtime.specs`), so that
:func:`~pagan_lightning.runtime.checkpoint.load_module` rebuilds the model with nothing else.
"""

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors
from torch.nn.parallel import DistributedDataParallel

from pagan_lightning import algorithm
from pagan_lightning.augment import Augmenter, ReflectPadCrop
from pagan_lightning.data.base import images_of
from pagan_lightning.games import Game, ImageGame, LatentGame, PairGame, Samples
from pagan_lightning.inference import LatentVariableModel
from pagan_lightning.nets.encoder import Encoder
from pagan_lightning.nets.pair import pair_match
from pagan_lightning.objectives import NonSaturatingGAN, Objective
from pagan_lightning.runtime.checkpoint import ExactResume
from pagan_lightning.runtime.compat import uncount_optimizer_steps
from pagan_lightning.runtime.errors import ConfigError, NonFiniteLossError
from pagan_lightning.runtime.specs import build, spec

Part = Any  # a built object, or a spec: a mapping with ``_target_``
BUILT_IN_GAMES = ("x", "z", "pair")


class PAGAN(ExactResume, LatentVariableModel, pl.LightningModule):
    """Pairwise Augmented GAN: generator G, Gaussian encoder E and three discriminators.

    Per training batch x (Algorithm 1): z ~ p(z), z_hat ~ q(z|x), x_prior = G(z),
    x_rec = G(z_hat), x_aug = a(x); then the games (:mod:`pagan_lightning.games`)

    - ``x``: D_x plays x vs x_prior (generator matching, eq. 5),
    - ``z``: D_z plays z vs z_hat (encoder matching, eq. 6),
    - ``pair``: D_xx plays the real pair (x, x_aug) vs the fake pair (x, x_rec) (eq. 11),

    and any ``extra_games``; G and E minimise the generator losses L_g and L_e. Each batch
    makes one discriminator step on every game and one generator/encoder step on the same
    samples, in the order ``update_order`` says (:mod:`pagan_lightning.algorithm`). With
    ``n_dis > 1`` the generator/encoder is updated on every ``n_dis``-th batch only (counted
    across epochs and resumes; the other batches step the discriminators alone, fakes
    detached); ``global_step`` counts generator updates.

    Every part is a built object or a spec (a mapping with ``_target_``).

    Args:
        generator, encoder, disc_x, disc_z: the networks G, E, D_x, D_z; ``encoder`` and
            ``disc_z`` ``None`` (with ``disc_pair`` ``None``) for a plain GAN of G and D_x
            (``variant=gan``, the control of the paper's generation claim).
        disc_pair: D_xx (:class:`~pagan_lightning.nets.PairCritic`), or ``None`` for no pair
            game (PAGAN-L1).
        augmenter: a(x) (:class:`~pagan_lightning.augment.Augmenter`); default the paper's
            reflect-pad 10% and random crop.
        objective: the :class:`~pagan_lightning.objectives.Objective` of every game that
            ``game_objectives`` does not name; default the non-saturating GAN of Algorithm 1.
        optimizer_g, optimizer_d: optimizer factories ``params -> Optimizer`` (a partial spec)
            of the generator and encoder, and of the discriminators; default Adam(2e-4, (0.5,
            0.999)), the paper's.
        lr_schedule: optional factory ``optimizer -> scheduler``, one per optimizer, stepped
            once per generator/encoder update (``model/lr_schedule=linear``: linear decay to 0
            at ``trainer.max_steps``); ``None``: constant learning rates, as in the paper.
        n_dis: discriminator updates per generator/encoder update.
        update_order: ``simultaneous``: every loss against the same discriminators, one pass
            of each critic over the fakes serving L_d and L_g / L_e, then all updates
            (Algorithm 1); ``alternating``: the discriminator step first, then L_g / L_e
            against the updated discriminators (a second pass over the fakes).
        reconstruction: optional pixel reconstruction term ``(x, x_rec) -> loss`` added to L_g
            and L_e (PAGAN-L1, with ``disc_pair=None``).
        gradient_penalty: optional penalty ``(critic, real, fake) -> loss`` added to the loss of
            every game's discriminator that ``game_penalties`` does not name (WPAGAN).
        game_objectives, game_penalties: per game name (``x``, ``z``, ``pair`` or an extra
            game), its own objective or penalty instead of the shared one.
        extra_games: more games by name, each a :class:`~pagan_lightning.games.Game` with its
            own critic; trained and logged (``train/d_<name>``) like the built-in ones.
        on_non_finite: a NaN / Inf loss either stops training with
            :class:`~pagan_lightning.runtime.errors.NonFiniteLossError` naming the step and the loss
            (``raise``; checkpoints already written stay as they are), or skips that update and
            counts it in ``train/skipped_updates`` (``skip``). ``raise`` checks on the device
            and reads the result every ``check_finite_every`` generator steps, before each
            checkpoint and at the end of training; ``skip`` reads one flag per phase.
        check_finite_every: generator steps between two reads of the non-finite flag.
        channels_last: keep the networks' weights and the images in NHWC memory layout.
        compile: ``torch.compile`` each network: ``True``, or ``torch.compile``'s keyword
            arguments, e.g. ``{mode: max-autotune}``.

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
        generator: Part,
        encoder: Part | None,
        disc_x: Part,
        disc_z: Part | None,
        disc_pair: Part | None,
        augmenter: Part | None = None,
        objective: Part | None = None,
        optimizer_g: Part | None = None,
        optimizer_d: Part | None = None,
        lr_schedule: Part | None = None,
        n_dis: int = 1,
        update_order: Literal["simultaneous", "alternating"] = "simultaneous",
        reconstruction: Part | None = None,
        gradient_penalty: Part | None = None,
        game_objectives: Mapping[str, Part] | None = None,
        game_penalties: Mapping[str, Part] | None = None,
        extra_games: Mapping[str, Part] | None = None,
        on_non_finite: Literal["raise", "skip"] = "raise",
        check_finite_every: int = 100,
        channels_last: bool = False,
        compile: bool | Mapping = False,
    ) -> None:
        super().__init__()
        adam = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))
        args = {
            "generator": generator,
            "encoder": encoder,
            "disc_x": disc_x,
            "disc_z": disc_z,
            "disc_pair": disc_pair,
            "augmenter": ReflectPadCrop(0.1) if augmenter is None else augmenter,
            "objective": NonSaturatingGAN() if objective is None else objective,
            "optimizer_g": adam if optimizer_g is None else optimizer_g,
            "optimizer_d": adam if optimizer_d is None else optimizer_d,
            "lr_schedule": lr_schedule,
            "n_dis": n_dis,
            "update_order": update_order,
            "reconstruction": reconstruction,
            "gradient_penalty": gradient_penalty,
            "game_objectives": dict(game_objectives or {}),
            "game_penalties": dict(game_penalties or {}),
            "extra_games": dict(extra_games or {}),
            "on_non_finite": on_non_finite,
            "check_finite_every": check_finite_every,
            "channels_last": channels_last,
            "compile": compile,
        }
        parts = {name: build(name, value) for name, value in args.items()}
        self.save_hyperparameters({name: spec(value) for name, value in args.items()})
        self.automatic_optimization = False
        self.generator: nn.Module = parts["generator"]
        self.encoder: Encoder | None = parts["encoder"]
        self.disc_x: nn.Module = parts["disc_x"]
        self.disc_z: nn.Module | None = parts["disc_z"]
        if self.encoder is None and (self.disc_z is not None or parts["disc_pair"] is not None):
            raise ConfigError(
                "model.encoder is null but model.disc_z or model.disc_pair is set: their games "
                "need the encoder (a plain GAN sets all three to null: variant=gan)"
            )
        self.disc_pair: nn.Module | None = parts["disc_pair"]
        self.augmenter: nn.Module = parts["augmenter"]
        self.objective: Objective = check_objective("objective", parts["objective"])
        self.reconstruction = parts["reconstruction"]
        self.gradient_penalty = parts["gradient_penalty"]
        self.make_optimizer_g: Callable = parts["optimizer_g"]
        self.make_optimizer_d: Callable = parts["optimizer_d"]
        self.make_lr_schedule: Callable | None = parts["lr_schedule"]
        self.extra_games = nn.ModuleDict(
            {
                name: check_game(name, build(f"extra_games.{name}", game))
                for name, game in args["extra_games"].items()
            }
        )
        built_in: dict[str, Game] = {"x": ImageGame(self.disc_x)}
        if self.disc_z is not None:
            built_in["z"] = LatentGame(self.disc_z)
        if self.disc_pair is not None:
            built_in["pair"] = PairGame(self.disc_pair)
        self._built_in_games = built_in  # a plain dict: the critics are registered above
        self._set_game_rules(args["game_objectives"], args["game_penalties"])
        self.latent_dim: int = self.generator.latent_dim
        if not isinstance(self.augmenter, nn.Module):
            raise ConfigError(
                f"augmenter must be an nn.Module (subclass {Augmenter.__module__}.Augmenter), "
                f"got {type(self.augmenter).__qualname__}"
            )
        if update_order not in ("simultaneous", "alternating"):
            raise ConfigError(
                f"model.update_order must be simultaneous or alternating, got {update_order!r}"
            )
        if on_non_finite not in ("raise", "skip"):
            raise ValueError(f"on_non_finite must be 'raise' or 'skip', got {on_non_finite!r}")
        # discriminator steps so far (checkpointed): G/E update when it is a multiple of n_dis
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))
        # updates skipped for a non-finite loss (on_non_finite="skip"), checkpointed
        self.register_buffer("skipped_updates", torch.zeros((), dtype=torch.long))
        # on_non_finite="raise", kept on the device: the batch (d_steps) of the first non-finite
        # loss (0: none yet) and the bit mask of its losses (bit i: loss_names[i]), read every
        # few steps
        zero = torch.zeros((), dtype=torch.long)
        self.register_buffer("first_non_finite", zero.clone(), persistent=False)
        self.register_buffer("non_finite_losses", zero.clone(), persistent=False)
        self.loss_names: list[str] = []  # every loss name seen, in order: the mask's bits
        self._d_steps = 0  # Python mirror of d_steps, set in on_train_start
        self._speed_options_applied = False

    def _set_game_rules(
        self, objectives: Mapping[str, Part], penalties: Mapping[str, Part]
    ) -> None:
        """Give the games named in ``game_objectives`` / ``game_penalties`` their own."""
        games = self.games()
        for option, rules, attribute in (
            ("game_objectives", objectives, "objective"),
            ("game_penalties", penalties, "gradient_penalty"),
        ):
            for name, rule in rules.items():
                if name not in games:
                    raise ConfigError(
                        f"model.{option}.{name}: no game {name!r} in this model; its games are "
                        f"{', '.join(games)}"
                    )
                built = build(f"{option}.{name}", rule)
                if attribute == "objective":
                    check_objective(f"{option}.{name}", built)
                setattr(games[name], attribute, built)

    # ---------------------------------------------------------------- optimisation
    def generator_parameters(self) -> list[nn.Parameter]:
        encoder = [] if self.encoder is None else list(self.encoder.parameters())
        return [*self.generator.parameters(), *encoder]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [p for game in self.games().values() for p in game.critic.parameters()]

    def games(self) -> dict[str, Game]:
        """The games of this model by name: ``x``, ``z``, ``pair`` (if D_xx), then the extra
        ones; each holds its critic, and its own objective / penalty or ``None`` (the shared
        one)."""
        return {**self._built_in_games, **self.extra_games}

    def make_optimizers(self) -> list[torch.optim.Optimizer]:
        """``[opt_g, opt_d]``: the generator/encoder's and the discriminators' optimizers."""
        return [
            self.make_optimizer_g(self.generator_parameters()),
            self.make_optimizer_d(self.discriminator_parameters()),
        ]

    def configure_optimizers(self) -> Any:
        """:meth:`make_optimizers`, and with ``lr_schedule`` also a scheduler of each."""
        optimizers = self.make_optimizers()
        if self.make_lr_schedule is None:
            return optimizers
        return optimizers, [self.make_lr_schedule(optimizer) for optimizer in optimizers]

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
            critics = [game.critic for game in self.games().values()]
            for net in (self.generator, self.encoder, *critics):
                if net is None:
                    continue
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

        # Algorithm 1 (pagan_lightning.algorithm) in the configured update order
        simultaneous = update_g and self.hparams.update_order == "simultaneous"
        with torch.set_grad_enabled(update_g):
            samples = algorithm.draw_samples(self, x)
        losses, loss_d, fake_outputs = algorithm.discriminator_losses(
            self, samples, detach=not simultaneous
        )
        if simultaneous:
            losses |= self._simultaneous_step(opt_g, opt_d, samples, losses, loss_d, fake_outputs)
        else:
            if self._finite(losses, "discriminator"):
                opt_d.zero_grad(set_to_none=True)
                self.manual_backward(loss_d)
                opt_d.step()
            if update_g:
                losses |= self._generator_step(opt_g, samples)
        if update_g and self.make_lr_schedule is not None:
            for scheduler in self.lr_schedulers():
                scheduler.step()

        # not prog_bar=True, which copies each value to the host after every batch: loggers
        # read them every log_every_n_steps, callbacks.LossProgressBar when it refreshes
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, on_step=True)
        if self.hparams.on_non_finite == "skip":
            self.log("train/skipped_updates", self.skipped_updates.float(), on_step=True)

    def _generator_step(self, opt_g: Any, samples: Samples) -> dict[str, Tensor]:
        """Alternating order: L_g and L_e against the updated discriminators (a new pass of
        each critic over the fakes), one G/E step. Toggling opt_g freezes the discriminators
        (requires_grad=False) so that they stay out of this graph: under DDP the reducer then
        finds them unused instead of waiting for their gradients."""
        self.toggle_optimizer(opt_g)
        losses_g, loss_g = algorithm.generator_losses(self, samples)
        opt_g.zero_grad(set_to_none=True)
        if self._finite(losses_g, "G/E"):
            self.manual_backward(loss_g)
        # a skipped update steps with no gradients: parameters and Adam state stay as they
        # are, but the step counts, so max_steps still ends the run
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        return losses_g

    def _simultaneous_step(
        self,
        opt_g: Any,
        opt_d: Any,
        samples: Samples,
        losses_d: dict[str, Tensor],
        loss_d: Tensor,
        fake_outputs: dict[str, Tensor],
    ) -> dict[str, Tensor]:
        """Simultaneous order (Algorithm 1): L_g and L_e from the critics' outputs that L_d
        used, two backward passes over that one graph, each restricted to its own networks'
        parameters (``inputs=``), then both steps."""
        losses_g, loss_g = algorithm.generator_losses(self, samples, fake_outputs)
        opt_d.zero_grad(set_to_none=True)
        opt_g.zero_grad(set_to_none=True)
        with self._local_gradients():
            step_d = self._finite(losses_d, "discriminator")
            if step_d:
                inputs = self.discriminator_parameters()
                self.manual_backward(loss_d, inputs=inputs, retain_graph=True)
            if self._finite(losses_g, "G/E"):
                self.manual_backward(loss_g, inputs=self.generator_parameters())
        if step_d:
            opt_d.step()
        opt_g.step()  # counts even when skipped, as in the alternating order
        return losses_g

    @contextlib.contextmanager
    def _local_gradients(self) -> Iterator[None]:
        """Backward passes that each reach part of the graph, under DDP: DDP's reducer expects
        one backward per forward to reach every parameter it found in the graph, so the passes
        run without it (``no_sync``) and every gradient is then averaged over the ranks in one
        all-reduce, as the reducer would have. Elsewhere nothing to do."""
        model = self.trainer.strategy.model
        if not isinstance(model, DistributedDataParallel):
            yield
            return
        with model.no_sync():
            yield
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if grads:
            flat = _flatten_dense_tensors(grads)
            torch.distributed.all_reduce(flat)
            flat /= torch.distributed.get_world_size()
            for grad, mean in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
                grad.copy_(mean)
        model.require_forward_param_sync = True  # as after a synced backward: buffers broadcast

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
            self.loss_names += [name for name in losses if name not in self.loss_names]
            bits = [self.loss_names.index(name) for name in losses]
            mask = sum(b.long() << i for i, b in zip(bits, bad, strict=True))
            first = (self.first_non_finite == 0) & (mask > 0)
            self.first_non_finite.copy_(torch.where(first, self.d_steps, self.first_non_finite))
            self.non_finite_losses.copy_(torch.where(first, mask, self.non_finite_losses))
            return True
        if self.trainer.strategy.reduce(bad.sum(), reduce_op="sum"):
            self.skipped_updates += 1
            return False
        return True

    def check_finite(self) -> None:
        """Raise :class:`~pagan_lightning.runtime.errors.NonFiniteLossError` if a loss was NaN / Inf
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
            names = [name for i, name in enumerate(self.loss_names) if mask >> i & 1]
            phase = "discriminator" if names[0].startswith(("d_", "gp_")) else "G/E"
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
        if self.encoder is None:
            return
        x_rec = self.generator(self.encoder(x)[0])
        self.log("val/rec_mse", F.mse_loss(x_rec, x), prog_bar=True, sync_dist=True)
        if self.disc_pair is not None:
            devices = [] if x.device.type == "cpu" else [x.device]
            with torch.random.fork_rng(devices=devices, device_type=x.device.type):
                torch.manual_seed(batch_idx)
                match = pair_match(self.disc_pair, x, self.augmenter)
            self.log("val/pair_match", match, sync_dist=True)


def check_objective(name: str, objective: Any) -> Objective:
    """``objective`` if it has an Objective's two methods, else a one-line ConfigError."""
    missing = [
        m
        for m in ("discriminator_loss", "generator_loss")
        if not callable(getattr(objective, m, None))
    ]
    if missing:
        raise ConfigError(
            f"model.{name}: {type(objective).__qualname__} is not an objective (no "
            f"{' or '.join(missing)}; see pagan_lightning.objectives.Objective)"
        )
    return objective


def check_game(name: str, game: Any) -> Game:
    """``game`` if it is a :class:`~pagan_lightning.games.Game` with a new name."""
    if name in BUILT_IN_GAMES:
        raise ConfigError(f"model.extra_games.{name}: {name!r} is a built-in game's name")
    if not isinstance(game, Game):
        raise ConfigError(
            f"model.extra_games.{name}: {type(game).__qualname__} is not a "
            f"pagan_lightning.games.Game (a critic with real() and fake() inputs)"
        )
    return game
