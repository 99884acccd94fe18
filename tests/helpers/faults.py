"""Faults injected into a run: networks that start returning NaN, a disk that fills up, a save
that stalls half-way (for a SIGKILL during the write), and the SIGKILL itself."""

import csv
import errno
import io
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from pagan_lightning.module import PAGAN
from pagan_lightning.runtime.checkpoint import AtomicCheckpointIO, load_checkpoint
from tests.helpers.configs import importing_tests


def poison(model: PAGAN, net: str, after_calls: int = 0) -> None:
    """Make ``model.<net>`` return NaN from its ``after_calls``-th call on."""
    calls = {"n": 0}

    def hook(module, inputs, output):
        calls["n"] += 1
        if calls["n"] <= after_calls:
            return None
        if isinstance(output, tuple):  # the encoder's (mu, sigma)
            return tuple(o * float("nan") for o in output)
        return output * float("nan")

    getattr(model, net).register_forward_hook(hook)


class _FillingFile(io.RawIOBase):
    """A file that takes ``room`` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, file: BinaryIO, room: int) -> None:
        self.file, self.room = file, room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.file.write(data)


class FullDiskCheckpointIO(AtomicCheckpointIO):
    """Checkpoints from generator step ``full_at_step`` on hit a full disk after ``room``
    bytes (torch's zip writer then raises its "unexpected pos" error, as on a real full disk)."""

    def __init__(self, full_at_step: int, room: int = 4096) -> None:
        super().__init__()
        self.full_at_step, self.room, self._full = full_at_step, room, False

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options=None) -> None:
        self._full = checkpoint["global_step"] >= self.full_at_step
        super().save_checkpoint(checkpoint, path, storage_options)

    def write(self, checkpoint: dict[str, Any], tmp: Path) -> None:
        if not self._full:
            return super().write(checkpoint, tmp)
        with open(tmp, "wb") as file:
            torch.save(checkpoint, _FillingFile(file, self.room))


class StallingCheckpointIO(AtomicCheckpointIO):
    """Writes half of the ``stall_name`` checkpoint at ``stall_step``, touches ``marker`` and
    sleeps, so that the test can SIGKILL the process in the middle of that save."""

    def __init__(self, stall_step: int, stall_name: str, marker: str) -> None:
        super().__init__()
        self.stall_step, self.stall_name, self.marker = stall_step, stall_name, Path(marker)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options=None) -> None:
        self._stall = checkpoint["global_step"] == self.stall_step and (
            Path(path).name == self.stall_name
        )
        super().save_checkpoint(checkpoint, path, storage_options)

    def write(self, checkpoint: dict[str, Any], tmp: Path) -> None:
        super().write(checkpoint, tmp)
        if self._stall:
            with open(tmp, "r+b") as f:
                f.truncate(tmp.stat().st_size // 2)
            self.marker.touch()
            time.sleep(600)


def kill_when(
    cmd: list[str],
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
    sig: signal.Signals = signal.SIGKILL,
) -> int:
    """Start ``cmd``, send ``sig`` to it and every process it started (DDP ranks) as soon as
    ``ready()`` (SIGKILL: as a machine failure would; SIGTERM: as a scheduler does); it must not
    have finished before. Returns its exit status."""
    process = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env or importing_tests(),
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, f"run ended before the kill: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.05)
    os.killpg(process.pid, sig)
    status = process.wait(timeout=300)
    process.stderr.close()
    return status


def last_step(run_dir: Path) -> int:
    path = run_dir / "checkpoints" / "last.ckpt"
    try:
        return load_checkpoint(path)["global_step"]
    except Exception:  # not written yet, or being replaced right now
        return -1


def logged_losses(run_dir: Path, keys: list[str] | None = None) -> dict[int, dict[str, str]]:
    """The training losses of ``<run>/csv/metrics.csv`` by step (``keys``, or every
    ``train/*`` column), as logged strings; where a killed attempt and its resume both logged a
    step, the last row."""
    rows: dict[int, dict[str, str]] = {}
    with open(run_dir / "csv" / "metrics.csv") as f:
        for row in csv.DictReader(f):
            if row.get("train/g"):
                names = keys or [k for k in row if k.startswith("train/")]
                rows[int(row["step"])] = {k: row[k] for k in names}
    return rows


def tensorboard_scalars(folder: Path, key: str) -> dict[int, list[float]]:
    """The values of ``key`` by step in the event files of ``folder`` as TensorBoard shows
    them (its event reader, earlier attempts' purged events left out); a step logged twice
    has two."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    found: dict[int, list[float]] = {}
    for event in events.Scalars(key):
        found.setdefault(event.step, []).append(event.value)
    return found
