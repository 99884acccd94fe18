"""A module outside pagan_lightning with a part, for the trust tests (it also imports os)."""

import os  # noqa: F401  (a re-export that trusting this package must not admit)

from pagan_lightning.augment import Augmenter


class Halves(Augmenter):
    """a(x) = x / 2."""

    def forward(self, x):
        return x / 2
