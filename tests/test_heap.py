"""Freed memory stays in the process for the next step (callbacks.heap), where the C library
is glibc; elsewhere training goes on as it is."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from pagan_lightning.runtime import heap
from tests.helpers.configs import compose_train

PAGES = 16 * 2**20 * 4 // 4096  # a 64 MiB float tensor
FAULTS = """
import resource, sys, torch
from pagan_lightning.runtime.heap import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
torch.ones(16 * 2**20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.ones(16 * 2**20)  # allocated, written, freed
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def faults_per_block(mode: str) -> float:
    """Page faults per allocation of a 64 MiB tensor, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


@pytest.mark.skipif(heap.glibc() is None, reason="mallopt is glibc's")
def test_a_block_freed_and_allocated_again_is_not_faulted_in_again() -> None:
    """glibc maps a 64 MiB block afresh for each allocation (a fault per page); with freed
    memory retained, the block is reused, at most once faulted in again."""
    default = faults_per_block("default")
    if default < PAGES / 2:
        pytest.skip(f"{default:.0f} faults a block: this kernel maps it in huge pages")
    assert faults_per_block("retain") <= default / 5


def test_the_default_callbacks_retain_freed_memory_at_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The callback sets both thresholds at setup; without glibc it says so and does nothing."""
    callback = instantiate(compose_train([], tmp_path).callbacks.heap)
    assert isinstance(callback, heap.RetainFreedMemory)

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return 1

    monkeypatch.setattr(heap, "glibc", FakeLibc)
    callback.setup(None, None, "fit")
    threshold = callback.threshold_mib * 2**20
    assert calls == [
        (heap.M_MMAP_THRESHOLD, threshold),
        (heap.M_TRIM_THRESHOLD, threshold),
    ]

    monkeypatch.setattr(heap, "glibc", lambda: None)
    with caplog.at_level(logging.INFO, logger="pagan_lightning.runtime.heap"):
        callback.setup(None, None, "fit")
    assert "not glibc" in caplog.text


def test_the_threshold_is_checked() -> None:
    with pytest.raises(ValueError, match="threshold_mib=0"):
        heap.RetainFreedMemory(threshold_mib=0)
