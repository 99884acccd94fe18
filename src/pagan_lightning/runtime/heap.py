"""Freed memory kept in the process for the next training step (glibc's ``mallopt(3)``).

A CPU training step allocates and frees activations and gradients of a few MiB each. By
default glibc serves large blocks with ``mmap`` and trims the top of its heap once enough of it
is free, so each step maps fresh pages and page-faults them in again. Raising
``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` keeps those blocks in the heap: the peak memory of
the process is unchanged, it is only not handed back to the system before the process ends.
The setting is process-wide and applies to later allocations; where the C library is not glibc
there is nothing to set.
"""

import ctypes
import logging

import pytorch_lightning as pl

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, <malloc.h>
M_MMAP_THRESHOLD = -3


def glibc() -> ctypes.CDLL | None:
    """This process's C library where it is glibc, else None."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def retain_freed_memory(threshold_mib: int = 1024) -> bool:
    """Serve blocks up to ``threshold_mib`` from the heap and trim it only when that much is
    free at its top. Returns whether it was set (False without glibc)."""
    libc = glibc()
    if libc is None:
        return False
    threshold = threshold_mib * 2**20
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, threshold) and libc.mallopt(M_TRIM_THRESHOLD, threshold)
    )


class RetainFreedMemory(pl.Callback):
    """Lightning callback: :func:`retain_freed_memory` in each training process, at setup."""

    def __init__(self, threshold_mib: int = 1024) -> None:
        if not 1 <= threshold_mib <= 1024:
            raise ValueError(f"threshold_mib={threshold_mib} must be in [1, 1024]")
        self.threshold_mib = threshold_mib

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if retain_freed_memory(self.threshold_mib):
            log.debug("glibc keeps freed blocks up to %d MiB in the heap", self.threshold_mib)
        else:
            log.info("callbacks.heap: the C library is not glibc; memory is managed as it is")
