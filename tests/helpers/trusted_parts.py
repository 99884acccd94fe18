"""A module outside pagan_lightning with a part, for the trust tests (it also imports os)."""

import os  # noqa: F401  (a re-export that trusting this package must not admit)

import torch

from pagan_lightning.augment import Augmenter


class Halves(Augmenter):
    """a(x) = x / 2."""

    def forward(self, x):
        return x / 2


class OnePerBatch(Augmenter):
    """a(x): one random shift for the whole batch, which breaks the augmenter contract."""

    def forward(self, x):
        return x.roll(int(torch.randint(-3, 4, ())), dims=-1)
