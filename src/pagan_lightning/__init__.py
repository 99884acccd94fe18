"""pagan-lightning: Pairwise Augmented GANs (Alanov et al.) in PyTorch Lightning and Hydra."""

from pagan_lightning.module import PAGAN

__all__ = ["PAGAN"]
__version__ = "0.1.0"
