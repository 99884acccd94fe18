"""The resumable shuffling of the training set, one shard per process."""

from collections.abc import Iterator

from torch.utils.data import DistributedSampler


class EpochSampler(DistributedSampler):
    """torch's ``DistributedSampler`` (the epoch's order from its own generator seeded by
    ``seed + epoch``, rank ``rank`` takes every ``num_replicas``-th index, the tail that does not
    divide evenly dropped) that can start an epoch part-way: ``start`` skips the first indices
    of this rank's share, once.

    The order does not touch the global RNG and is recomputed, not stored, so a resumed run
    replays the interrupted epoch's order, under DDP as in one process. Lightning calls
    :meth:`set_epoch` at the start of every epoch, and leaves a ``DistributedSampler`` as it is
    instead of wrapping it in its own.
    """

    def __init__(self, size: int, seed: int = 0, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(
            range(size),
            num_replicas=num_replicas,
            rank=rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        start, self.start = self.start, 0
        return iter(indices[start:])
