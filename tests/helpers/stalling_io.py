"""A checkpoint plugin for the kill-during-save test: stalls half-way through one write."""

import time
from pathlib import Path
from typing import Any

from pagan_lightning.checkpoint import AtomicCheckpointIO


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
