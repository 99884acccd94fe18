"""pagan-lightning: Pairwise Augmented GANs (Alanov et al.) in PyTorch Lightning and Hydra."""

from pagan_lightning.augment import Augmenter, check_augmenter
from pagan_lightning.games import Game
from pagan_lightning.module import PAGAN
from pagan_lightning.runtime.checkpoint import load_module
from pagan_lightning.runtime.specs import Rebuildable

__all__ = ["PAGAN", "Augmenter", "Game", "Rebuildable", "check_augmenter", "load_module"]
__version__ = "0.1.0"
