"""``python -m pagan_lightning.cli.probe [--modes ...] [--ckpt <files>]``: the pair-dependence
probe of :mod:`pagan_lightning.reporting.probe` for every pair mode on real Fashion-MNIST, or
the D_xx of trained checkpoints; prints a markdown table."""

import argparse
import logging
import time

import torch

from pagan_lightning.augment import ReflectPadCrop
from pagan_lightning.nets import PAIR_MODES, PairDiscriminator
from pagan_lightning.reporting.probe import (
    fashion_mnist_images,
    read_pair_discriminator,
    train_pair_probe,
)
from pagan_lightning.runtime.checkpoint import load_module
from pagan_lightning.runtime.errors import ConfigError, UserError, bugs_reported, message

log = logging.getLogger("pagan_lightning.probe")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(PAIR_MODES), choices=PAIR_MODES)
    parser.add_argument("--ch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--system-dir", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--ckpt", nargs="+", help="trained Fashion-MNIST PAGAN checkpoints")
    parser.add_argument(
        "--trusted",
        nargs="+",
        default=[],
        help="packages whose classes the checkpoints may name, besides those their runs trusted",
    )
    args = parser.parse_args(argv)
    try:
        with bugs_reported(log):
            probe(args)
    except UserError as err:
        parser.exit(1, f"error: {message(err)}\n")


def probe(args: argparse.Namespace) -> None:
    for name in ("ch", "steps", "batch_size", "n_test") + (() if args.ckpt else ("n_train",)):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')}={getattr(args, name)} must be positive")
    models = {path: probed_model(path, args.trusted) for path in args.ckpt or []}
    n_train = 0 if args.ckpt else args.n_train
    train, test = fashion_mnist_images(n_train, args.n_test, args.system_dir, args.data_dir)
    if args.ckpt:
        print("| checkpoint | pair_match | real_over_rec |\n|---|---|---|")
        for path, model in models.items():
            check_images(path, model, test)
            torch.manual_seed(0)
            read = read_pair_discriminator(model, test)
            print(f"| {path} | {read['pair_match']:.3f} | {read['real_over_rec']:.3f} |")
        return
    augment = ReflectPadCrop(0.1)
    print("| mode | ch | steps | seed | held-out accuracy | seconds |\n|---|---|---|---|---|---|")
    for mode in args.modes:
        for seed in args.seeds:
            torch.manual_seed(seed)
            disc = PairDiscriminator(mode, channels=1, image_size=32, ch=args.ch)
            start = time.perf_counter()
            acc = train_pair_probe(
                disc, train, test, augment, args.steps, args.batch_size, seed=seed
            )
            seconds = time.perf_counter() - start
            print(f"| {mode} | {args.ch} | {args.steps} | {seed} | {acc:.3f} | {seconds:.0f} |")


def probed_model(path: str, trusted: list[str]) -> torch.nn.Module:
    """The module of checkpoint ``path``, refused in one line unless it has a D_xx to read."""
    model = load_module(path, trusted=trusted).eval()
    if getattr(model, "disc_pair", None) is None or not hasattr(model, "reconstruct"):
        raise ConfigError(
            f"{path}: a {type(model).__name__} without a pair discriminator D_xx (PAGAN-L1, a "
            f"VAE or a plain GAN): the probe reads the D_xx of a PAGAN checkpoint"
        )
    return model


def check_images(path: str, model: torch.nn.Module, test: torch.Tensor) -> None:
    """Refuse a model trained on images of another shape than the probe's Fashion-MNIST."""
    with torch.no_grad():
        shape = tuple(model.sample(1).shape[1:])
    if shape != tuple(test.shape[1:]):
        raise ConfigError(
            f"{path}: trained on {'x'.join(map(str, shape))} images; the probe reads "
            f"Fashion-MNIST at {'x'.join(map(str, test.shape[1:]))}"
        )


if __name__ == "__main__":
    main()
