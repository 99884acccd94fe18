"""Throughput benchmark: PAGAN through the Lightning Trainer against a plain PyTorch loop.

``python -m pagan_lightning.cli.bench [hydra overrides] [--steps N ...]`` (``make bench``) composes
the training config as ``pagan-train`` would, then, in this one process and after warm-up:

1. counts the FLOPs of one training step (``torch.utils.flop_counter``: the convolutions and
   matmuls of every forward and backward pass) and states the machine's peak with its
   assumption (:mod:`pagan_lightning.runtime.hardware`);
2. times training at the configured batch size, ``--rounds`` runs each of the Trainer and of
   a minimal plain loop (:func:`plain_step`) with the same networks, losses, optimizers,
   precision and memory layout, on the same in-memory batches, alternating which goes first;
   prints generator steps/s, images/s, achieved GFLOP/s and share of peak, and peak memory of
   each (fastest run), and their ratio; with ``--against OVERRIDE ...``, also the Trainer
   under the config with those overrides (e.g. the previous default), and the speed-up;
   then profiles ``--profile-steps`` plain steps: their time by kind of operator
   (:func:`pagan_lightning.runtime.hardware.time_by_kind`);
3. sweeps ``--batch-sizes`` (``--sweep-rounds`` runs each): the scaling curve of both;
4. times evaluation throughput, images/s and GFLOP/s through a feature extractor
   (``--extractor``): the discriminator body of D_x, or an Inception-v3 at 299x299 (random
   weights, the FID network's cost).

Its last line is ``trainer/plain throughput ratio: <x>``. Data loading is left out on purpose
(random images in memory): the benchmark measures the training step and the framework around
it. Peak memory is CUDA's peak allocation on a GPU, the process's peak RSS on a CPU (which
only grows, so later phases show at least the earlier peaks).
"""

import argparse
import logging
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning import algorithm
from pagan_lightning.module import PAGAN
from pagan_lightning.runtime import hardware
from pagan_lightning.runtime.configs import config_dir, instantiate_model
from pagan_lightning.runtime.errors import ConfigError, UserError, bugs_reported, message
from pagan_lightning.runtime.validate import check_config

log = logging.getLogger("pagan_lightning.bench")

PRECISIONS = ("32-true", "32", "bf16-mixed")


@dataclass
class Timing:
    """One timed run: generator steps, images, seconds and peak memory (MiB)."""

    steps: int
    images: int
    seconds: float
    peak_mib: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def device_of(cfg: DictConfig) -> torch.device:
    accelerator = str(cfg.trainer.accelerator)
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


def autocast(cfg: DictConfig, device: torch.device) -> AbstractContextManager:
    """The autocast region Lightning's precision plugin opens around ``training_step``."""
    precision = str(cfg.trainer.precision)
    if precision not in PRECISIONS:
        raise ValueError(f"bench supports trainer.precision in {PRECISIONS}, got {precision}")
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def build_model(cfg: DictConfig, device: torch.device) -> PAGAN:
    """The configured PAGAN from seed 0, speed options applied, on ``device``. With
    ``model.compile``, dynamo's caches are cleared first: every run compiles its own networks
    (during warm-up) instead of running into the recompile limit that the runs before it
    used up on the same ``forward`` functions."""
    if cfg.model.compile:
        torch.compiler.reset()
    torch.manual_seed(0)
    model = instantiate_model(cfg)
    model.configure_model()
    return model.to(device)


def batches(cfg: DictConfig, batch_size: int, n_batches: int) -> DataLoader:
    """``n_batches`` batches of random images in [-1, 1] of the configured shape, in memory."""
    size, channels = cfg.data.image_size, cfg.data.channels
    images = torch.rand(batch_size * n_batches, channels, size, size) * 2 - 1
    return DataLoader(TensorDataset(images), batch_size=batch_size)


def plain_step(
    model: PAGAN,
    x: torch.Tensor,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    update_g: bool,
    amp: Callable[[], AbstractContextManager],
) -> None:
    """Algorithm 1 without Lightning: the functions of :mod:`pagan_lightning.algorithm` that
    :meth:`PAGAN.training_step` calls, in the model's update order, with plain optimizer steps
    (no logging, no non-finite guard)."""
    simultaneous = update_g and model.hparams.update_order == "simultaneous"
    with amp(), torch.set_grad_enabled(update_g):
        samples = algorithm.draw_samples(model, x)
    with amp():
        _, loss_d, fake_outputs = algorithm.discriminator_losses(
            model, samples, detach=not simultaneous
        )
    opt_d.zero_grad(set_to_none=True)
    if simultaneous:
        with amp():
            _, loss_g = algorithm.generator_losses(model, samples, fake_outputs)
        opt_g.zero_grad(set_to_none=True)
        loss_d.backward(inputs=model.discriminator_parameters(), retain_graph=True)
        loss_g.backward(inputs=model.generator_parameters())
        opt_d.step()
        opt_g.step()
        return
    loss_d.backward()
    opt_d.step()
    if not update_g:
        return
    critics = model.games().values()
    for critic in critics:
        critic.requires_grad_(False)
    with amp():
        _, loss_g = algorithm.generator_losses(model, samples)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    for critic in critics:
        critic.requires_grad_(True)


def plain_generator_step(
    cfg: DictConfig, device: torch.device, batch_size: int
) -> Callable[[], None]:
    """One generator step (``n_dis`` batches) of :func:`plain_step` on a fresh model of
    ``cfg``, its batches drawn once, in memory, in the model's layout."""
    model = build_model(cfg, device)
    model.train()
    opt_g, opt_d = model.make_optimizers()
    n_dis = model.hparams.n_dis
    (images,) = next(iter(batches(cfg, batch_size * n_dis, 1)))
    images = images.to(device)
    if model.hparams.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        for i, x in enumerate(images.chunk(n_dis)):
            plain_step(model, x, opt_g, opt_d, i % n_dis == 0, lambda: autocast(cfg, device))

    return step


def step_flops(cfg: DictConfig, device: torch.device, batch_size: int) -> int:
    """FLOPs of one generator step (``n_dis`` batches) of :func:`plain_step`, counted."""
    return hardware.count_flops(plain_generator_step(cfg, device, batch_size))


def machine_peak(cfg: DictConfig, device: torch.device) -> hardware.Peak | None:
    """The peak FLOP/s of this device at the configured precision, where it can be derived."""
    bf16 = str(cfg.trainer.precision) == "bf16-mixed"
    if device.type == "cuda":
        return hardware.cuda_peak(device, bf16)
    return hardware.cpu_peak(torch.get_num_threads(), bf16)


def time_plain(cfg: DictConfig, device: torch.device, batch_size: int, warmup: int, steps: int):
    """Plain loop: ``warmup`` then ``steps`` timed generator steps."""
    model = build_model(cfg, device)
    model.train()
    opt_g, opt_d = model.make_optimizers()  # a schedule (lr_schedule) does not change the speed
    n_dis = model.hparams.n_dis
    channels_last = model.hparams.channels_last
    reset_peak(device)
    start = None
    for i, (x,) in enumerate(batches(cfg, batch_size, (warmup + steps) * n_dis)):
        if i == warmup * n_dis:
            synchronize(device)
            start = time.perf_counter()
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        plain_step(model, x, opt_g, opt_d, i % n_dis == 0, lambda: autocast(cfg, device))
    synchronize(device)
    seconds = time.perf_counter() - start
    return Timing(steps, steps * n_dis * batch_size, seconds, peak_mib(device))


def profile_plain(
    cfg: DictConfig, device: torch.device, batch_size: int, warmup: int, steps: int
) -> dict[str, float]:
    """Plain loop: ``warmup`` generator steps, then seconds per step by kind of operator over
    ``steps`` more (:func:`pagan_lightning.runtime.hardware.time_by_kind`)."""
    step = plain_generator_step(cfg, device, batch_size)
    for _ in range(warmup):
        step()
    return hardware.time_by_kind(step, device, steps)


def print_profile(seconds: dict[str, float], steps: int) -> None:
    """The time of a step by kind of operator, and what it bounds: convolutions and matmuls
    alone, the step were everything else free."""
    total = sum(seconds.values())
    print(f"\ntime by kind of operator (torch.profiler, self time, mean of {steps} plain steps):")
    for kind, own in seconds.items():
        print(f"  {kind:<14} {1e3 * own:9.1f} ms {100 * own / total:6.1f} %")
    print(f"  {'all':<14} {1e3 * total:9.1f} ms")
    dense = seconds["convolution"] + seconds["matmul"]
    print(
        f"convolutions and matmuls: {100 * dense / total:.1f} % of the profiled step; "
        f"with nothing else, at most {total / dense:.2f}x its steps/s"
    )


class StepTimer(pl.Callback):
    """Seconds from the first batch after ``warmup`` generator steps to the end of the last."""

    def __init__(self, warmup: int, device: torch.device) -> None:
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup * pl_module.hparams.n_dis:
            synchronize(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == trainer.max_steps:
            synchronize(self.device)
            self.end = time.perf_counter()


def time_trainer(cfg: DictConfig, device: torch.device, batch_size: int, warmup: int, steps: int):
    """Lightning: the Trainer of ``cfg.trainer`` (one device, its precision) without loggers,
    checkpoints or progress bar, ``warmup`` then ``steps`` timed generator steps."""
    model = build_model(cfg, device)
    timer = StepTimer(warmup, device)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            accelerator="gpu" if device.type == "cuda" else "cpu",
            devices=1,
            precision=cfg.trainer.precision,
            max_steps=warmup + steps,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[timer],
            default_root_dir=root,
        )
        reset_peak(device)
        n_batches = (warmup + steps) * model.hparams.n_dis
        trainer.fit(model, batches(cfg, batch_size, n_batches))
    n_images = steps * model.hparams.n_dis * batch_size
    return Timing(steps, n_images, timer.end - timer.start, peak_mib(device))


class InceptionFeatures(nn.Module):
    """Inception-v3 pool features at 299x299 (random weights: the cost, not the values, of the
    FID network); grayscale images are repeated to 3 channels."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import inception_v3

        self.net = inception_v3(weights=None, aux_logits=False, init_weights=False)
        self.net.fc = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return self.net(x.expand(-1, 3, -1, -1))


def feature_extractor(name: str, cfg: DictConfig, device: torch.device) -> nn.Module:
    """``inception`` (:class:`InceptionFeatures`) or ``discriminator`` (the body of D_x)."""
    if name == "inception":
        return InceptionFeatures().to(device)
    return build_model(cfg, device).disc_x.body


@torch.no_grad()
def time_extractor(
    extractor: nn.Module, images: torch.Tensor, batch_size: int, amp: AbstractContextManager
) -> float:
    """Images/s of ``extractor`` over ``images`` in eval mode, after one warm-up batch."""
    extractor.eval()
    device = images.device
    with amp:
        extractor(images[:batch_size])
        synchronize(device)
        start = time.perf_counter()
        for chunk in images.split(batch_size):
            extractor(chunk)
        synchronize(device)
    return len(images) / (time.perf_counter() - start)


def print_timing(
    label: str, timing: Timing, flops: int | None = None, peak: hardware.Peak | None = None
) -> None:
    """One line: steps/s, images/s, achieved GFLOP/s and share of ``peak``, peak memory."""
    rate = ""
    if flops is not None:
        achieved = flops * timing.steps_per_s
        rate = f" {achieved / 1e9:8.1f} GFLOP/s"
        if peak is not None:
            rate += f" {100 * achieved / peak.flops_per_s:5.1f} % of peak"
    print(
        f"{label:<8} {timing.steps_per_s:10.2f} gen steps/s {timing.images_per_s:10.1f} images/s"
        f"{rate} {timing.peak_mib:10.0f} MiB peak"
    )


def compare(
    cfg: DictConfig, device: torch.device, batch_size: int, warmup: int, steps: int, rounds: int
) -> dict[str, Timing]:
    """The fastest of ``rounds`` runs of each loop, alternating which goes first (the first run
    at a new batch size pays the allocator's growth); other processes only slow a run down."""
    loops = {"plain": time_plain, "trainer": time_trainer}
    runs: dict[str, list[Timing]] = {"trainer": [], "plain": []}
    for i in range(rounds):
        for label in ("plain", "trainer") if i % 2 == 0 else ("trainer", "plain"):
            runs[label].append(loops[label](cfg, device, batch_size, warmup, steps))
    return {label: max(timings, key=lambda t: t.images_per_s) for label, timings in runs.items()}


def against(
    cfg: DictConfig,
    base_cfg: DictConfig,
    device: torch.device,
    batch_size: int,
    warmup: int,
    steps: int,
    rounds: int,
) -> tuple[Timing, Timing]:
    """The fastest Trainer run of ``cfg`` and of ``base_cfg``, timed in alternation (ABBA...),
    so that a machine whose speed drifts during the benchmark favours neither."""
    runs: dict[str, list[Timing]] = {"this": [], "base": []}
    configs = {"this": cfg, "base": base_cfg}
    for i in range(rounds):
        for label in ("this", "base") if i % 2 == 0 else ("base", "this"):
            runs[label].append(time_trainer(configs[label], device, batch_size, warmup, steps))
    fastest = {label: max(timings, key=lambda t: t.steps_per_s) for label, timings in runs.items()}
    return fastest["this"], fastest["base"]


def train_config(overrides: list[str]) -> DictConfig:
    """``conf/train.yaml`` with ``overrides``; Hydra's composition errors as one ConfigError."""
    try:
        return compose("train", overrides=overrides)
    except HydraException as err:
        lines = [line.strip() for line in str(err).split("Config search path")[0].splitlines()]
        raise ConfigError(" ".join(line for line in lines if line)) from None


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m pagan_lightning.cli.bench",
        description=__doc__.split("\n\n")[0],
        epilog="Other arguments are Hydra overrides of the training config, "
        "e.g. experiment=quickstart trainer.precision=bf16-mixed model.channels_last=true",
    )
    parser.add_argument("--steps", type=int, default=30, help="timed generator steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="untimed generator steps first")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each loop")
    parser.add_argument("--sweep-rounds", type=int, default=2, help="runs per sweep point")
    parser.add_argument(
        "--batch-sizes", default="", help="comma-separated sweep (default: half, 1x, 2x batch)"
    )
    parser.add_argument(
        "--against",
        nargs="+",
        default=None,
        metavar="OVERRIDE",
        help="also time the Trainer with these overrides added (e.g. the previous default: "
        "model.update_order=alternating) and print the speed-up against it; give it last",
    )
    parser.add_argument(
        "--profile-steps", type=int, default=3, help="plain steps profiled by kind of operator"
    )
    parser.add_argument("--extractor", choices=("discriminator", "inception"), default=None)
    parser.add_argument("--eval-images", type=int, default=512)
    args, overrides = parser.parse_known_args(argv)
    unknown = [o for o in overrides if o.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    for name in ("steps", "rounds", "sweep_rounds", "eval_images", "profile_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} must be positive")
    if args.warmup < 0:
        parser.error(f"--warmup={args.warmup} must be 0 or more")
    return args, overrides


def main(argv: Sequence[str] | None = None) -> float:
    """Run the benchmark; return the trainer/plain throughput ratio at the configured batch."""
    args, overrides = parse(sys.argv[1:] if argv is None else argv)
    try:
        with bugs_reported(log):
            return bench(args, overrides)
    except UserError as err:
        sys.exit(f"error: {message(err)}")


def bench(args: argparse.Namespace, overrides: list[str]) -> float:
    """The benchmark of the ``pagan-train`` config that ``overrides`` compose."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # one Trainer per run
    warnings.filterwarnings("ignore", ".*no `val_dataloader`.*")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        # outside a Hydra run there is no ${hydra:runtime.output_dir}; the bench writes nothing
        overrides = [f"paths.output_dir={Path(tempfile.gettempdir()) / 'pagan-bench'}", *overrides]
        cfg = train_config(overrides)
        against_cfg = None if args.against is None else train_config([*overrides, *args.against])
    for config in (cfg, against_cfg):  # the training's own checks, one line, before any work
        if config is not None:
            check_config(config)
    heap = OmegaConf.select(cfg, "callbacks.heap")
    if against_cfg is not None and OmegaConf.select(against_cfg, "callbacks.heap") != heap:
        raise ConfigError(
            "--against cannot change callbacks.heap: it holds for the whole process; compare it "
            "in separate processes (docs/results/speed/heap_retention.sh)"
        )
    if heap is not None:  # as pagan-train's callback does, for every run here
        instantiate(heap).setup(None, None, "fit")
    device = device_of(cfg)
    batch = int(cfg.data.batch_size)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device: {name}, {torch.get_num_threads()} threads; precision {cfg.trainer.precision};"
        f" channels_last={cfg.model.channels_last}; compile={cfg.model.compile};"
        f" callbacks.heap={'on' if heap is not None else 'off'}; batch {batch};"
        f" {args.warmup} warm-up + {args.steps} timed generator steps"
    )

    flops = step_flops(cfg, device, batch)
    peak = machine_peak(cfg, device)
    print(f"one generator step: {flops / 1e9:.2f} GFLOP (counted, forward and backward)")
    print(f"peak: {'unknown' if peak is None else f'{peak.flops_per_s / 1e9:.0f} GFLOP/s'}", end="")
    print("" if peak is None else f" ({peak.assumption})")

    best = compare(cfg, device, batch, args.warmup, args.steps, args.rounds)
    print(f"\ntraining at batch {batch}, fastest of {args.rounds} rounds:")
    for label, timing in best.items():
        print_timing(label, timing, flops, peak)
    if against_cfg is not None:
        base_cfg = against_cfg
        base_flops = step_flops(base_cfg, device, batch)
        this, base = against(cfg, base_cfg, device, batch, args.warmup, args.steps, args.rounds)
        print(f"\nagainst {' '.join(args.against)} ({base_flops / 1e9:.2f} GFLOP a step),")
        print(f"the two trainers interleaved, fastest of {args.rounds} rounds:")
        print_timing("this", this, flops, peak)
        print_timing("against", base, base_flops, machine_peak(base_cfg, device))
        print(f"speed-up against it: {this.steps_per_s / base.steps_per_s:.2f}x steps/s")
    print_profile(
        profile_plain(cfg, device, batch, args.warmup, args.profile_steps), args.profile_steps
    )

    sweep = [int(b) for b in args.batch_sizes.split(",") if b] or [batch // 2, batch, 2 * batch]
    print(f"\nbatch-size sweep (fastest of {args.sweep_rounds} rounds):")
    print(f"{'batch':>6} {'trainer img/s':>14} {'plain img/s':>12} {'ratio':>6}")
    for b in sweep:
        point = compare(cfg, device, b, args.warmup, args.steps, args.sweep_rounds)
        trainer, plain = point["trainer"].images_per_s, point["plain"].images_per_s
        print(f"{b:>6} {trainer:>14.1f} {plain:>12.1f} {trainer / plain:>6.3f}")

    extractor_name = args.extractor or ("inception" if device.type == "cuda" else "discriminator")
    extractor = feature_extractor(extractor_name, cfg, device)
    size, channels = cfg.data.image_size, cfg.data.channels
    images = torch.rand(args.eval_images, channels, size, size, device=device) * 2 - 1
    with torch.no_grad():
        per_image = hardware.count_flops(lambda: extractor.eval()(images[:1]))
    rate = time_extractor(extractor, images, batch, autocast(cfg, device))
    print(
        f"\nevaluation: {rate:.1f} images/s through the {extractor_name} features, "
        f"{per_image / 1e9:.3f} GFLOP an image, {rate * per_image / 1e9:.1f} GFLOP/s"
    )

    ratio = best["trainer"].images_per_s / best["plain"].images_per_s
    print(f"trainer/plain throughput ratio: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
