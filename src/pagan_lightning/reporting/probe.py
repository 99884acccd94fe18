"""Pair-dependence probe: does a pair discriminator D_xx(x, y) see x and y *together*?

The reconstruction game of eq. (11) only pushes G(E(x)) towards x if D_xx can tell a matching
pair from a mismatched one. The probe trains a pair discriminator alone, with the
non-saturating discriminator loss of Algorithm 1, to separate

- real pairs (x, a(x)) (the paper's real pairs), from
- mismatched pairs (x, a(x')), x' another image of the batch,

and reports its held-out accuracy (logit > 0 means "real"). Both kinds of pair have the same
marginals of x and of y, so a discriminator whose logit is a(x) + b(y) is at chance (0.5) in
expectation, however long it trains; a discriminator that compares the halves is not.

``python -m pagan_lightning.cli.probe`` runs it for every pair mode on real Fashion-MNIST and
prints a table; ``--ckpt <files>`` reads instead the D_xx of trained Fashion-MNIST models:
:func:`~pagan_lightning.nets.pair.pair_match` and how often D_xx ranks (x, a(x)) above
(x, G(mu(x))), on test images.
During training, PAGAN logs ``pair_match`` of its own D_xx on the validation batches as
``val/pair_match``.
"""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from pagan_lightning.nets.pair import mismatched, pair_match
from pagan_lightning.objectives import NonSaturatingGAN

Augment = Callable[[Tensor], Tensor]


@torch.no_grad()
def pair_accuracy(
    disc: nn.Module, images: Tensor, augment: Augment, batch_size: int = 256
) -> float:
    """Balanced accuracy of ``disc`` on real pairs (x, a(x)) vs mismatched (x, a(x')), with
    logit > 0 read as "real", over ``images`` in batches."""
    correct, total = 0, 0
    for x in images.split(batch_size):
        real, fake = disc(x, augment(x)), disc(x, augment(mismatched(x)))
        correct += int((real > 0).sum()) + int((fake <= 0).sum())
        total += 2 * len(x)
    return correct / total


def train_pair_probe(
    disc: nn.Module,
    train: Tensor,
    test: Tensor,
    augment: Augment,
    steps: int = 400,
    batch_size: int = 64,
    lr: float = 2e-4,
    seed: int = 0,
) -> float:
    """Train ``disc`` alone for ``steps`` Adam steps (the paper's lr 2e-4, betas (0.5, 0.999))
    on batches of ``train``, then return :func:`pair_accuracy` on ``test``."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    loss = NonSaturatingGAN.discriminator_loss
    disc.train()
    for _ in range(steps):
        x = train[torch.randint(len(train), (batch_size,), generator=generator)]
        real, fake = disc(torch.cat([x, x]), augment(torch.cat([x, mismatched(x)]))).chunk(2)
        optimizer.zero_grad(set_to_none=True)
        loss(real, fake).backward()
        optimizer.step()
    disc.eval()
    return pair_accuracy(disc, test, augment)


@torch.no_grad()
def read_pair_discriminator(model: nn.Module, test: Tensor, batch_size: int = 250) -> dict:
    """:func:`pair_match` of a trained PAGAN's own D_xx with its own augmenter on ``test``, and
    ``real_over_rec``: how often it ranks (x, a(x)) above (x, G(mu(x))) (the posterior mean,
    not the game's G(z_hat)). ``model`` in eval mode."""
    if getattr(model, "disc_pair", None) is None:
        raise ValueError("the model has no pair discriminator")
    disc, augment = model.disc_pair, model.augmenter
    match, over_rec = [], []
    for x in test.split(batch_size):
        match.append(pair_match(disc, x, augment))
        over_rec.append((disc(x, augment(x)) > disc(x, model.reconstruct(x))).float().mean())
    return {
        "pair_match": float(torch.stack(match).mean()),
        "real_over_rec": float(torch.stack(over_rec).mean()),
    }


def fashion_mnist_images(n_train: int, n_test: int, system_dir: str, data_dir: str) -> tuple:
    """``n_train`` training and ``n_test`` test images of real Fashion-MNIST, 32x32 in [-1, 1]."""
    from pagan_lightning.data import FashionMNISTDataModule, first_images

    kept = {} if n_train else {"val_size": 0}  # test images only: no held-out split needed
    dm = FashionMNISTDataModule(data_dir=data_dir, system_dir=system_dir, download=False, **kept)
    dm.setup("fit")
    train = first_images(dm.train_set, n_train) if n_train else torch.empty(0, 1, 32, 32)
    return train, first_images(dm.test_set, n_test)
