"""my_pagan: PAGAN extended from a package of its own (augmenters, a pair discriminator, an
objective and a fourth game), with its own Hydra config folder ``my_pagan/conf``."""

from my_pagan.parts import (
    AdditiveNoise,
    Cutout,
    DifferencePairDiscriminator,
    HingeGAN,
    ReconstructionGame,
)

__all__ = [
    "AdditiveNoise",
    "Cutout",
    "DifferencePairDiscriminator",
    "HingeGAN",
    "ReconstructionGame",
]
