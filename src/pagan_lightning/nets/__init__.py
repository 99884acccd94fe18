"""The five PAGAN networks: generator G, encoder E, and the discriminators D_x, D_z, D_xx."""

from pagan_lightning.nets.discriminator import Discriminator, DiscriminatorBody
from pagan_lightning.nets.encoder import Encoder
from pagan_lightning.nets.generator import Generator
from pagan_lightning.nets.latent import LatentDiscriminator
from pagan_lightning.nets.pair import PAIR_MODES, PairCritic, PairDiscriminator

__all__ = [
    "PAIR_MODES",
    "Discriminator",
    "DiscriminatorBody",
    "Encoder",
    "Generator",
    "LatentDiscriminator",
    "PairCritic",
    "PairDiscriminator",
]
