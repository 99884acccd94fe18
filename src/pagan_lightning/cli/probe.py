"""``python -m pagan_lightning.cli.probe [--modes ...] [--ckpt <files>]``: the pair-dependence
probe of :mod:`pagan_lightning.reporting.probe` for every pair mode on real Fashion-MNIST, or
the D_xx of trained checkpoints; prints a markdown table."""

import argparse
import sys
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
from pagan_lightning.runtime.errors import UserError


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
    n_train = 0 if args.ckpt else args.n_train
    train, test = fashion_mnist_images(n_train, args.n_test, args.system_dir, args.data_dir)
    if args.ckpt:
        print("| checkpoint | pair_match | real_over_rec |\n|---|---|---|")
        for path in args.ckpt:
            try:
                model = load_module(path, trusted=args.trusted).eval()
            except UserError as err:
                sys.exit(f"error: {err}")
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


if __name__ == "__main__":
    main()
