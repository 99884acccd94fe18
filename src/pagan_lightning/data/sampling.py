"""The resumable shuffling of the training set."""

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Random order of an epoch drawn from its own generator, seeded by ``seed + epoch``.

    The order does not touch the global RNG and is recomputed, not stored, so a resumed run
    replays the interrupted epoch's order; ``start`` skips the indices already trained on,
    once. Lightning calls :meth:`set_epoch` at the start of every epoch.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size, self.seed, self.epoch, self.start = size, seed, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(
            self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch)
        )
        start, self.start = self.start, 0
        return iter(order[start:].tolist())

    def __len__(self) -> int:
        return self.size
