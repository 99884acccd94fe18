"""Run folders: one writer at a time, a used folder only resumed, and what a folder tells.

:func:`claim` (rank 0 of ``pagan-train``, before anything is written) takes an exclusive
``flock`` on ``<run>/.lock`` for the life of the process (released by the kernel however the
process ends, SIGKILL included), and refuses a folder that already holds a run's files unless
the command resumes that run from one of its own checkpoints.
"""

import fcntl
import os
from pathlib import Path

from omegaconf import OmegaConf

from pagan_lightning.errors import ConfigError

LOCK = ".lock"
# what a pagan-train run leaves in its folder
RUN_FILES = ("config_resolved.yaml", "checkpoints", "csv/metrics.csv")

_held: dict[Path, int] = {}  # run folder -> file descriptor of its lock, kept open


def claim(output_dir: Path, ckpt_path: str | None) -> None:
    """Lock ``output_dir`` for this process and check that this run may write there.

    Raises:
        ConfigError: another process holds the folder, or the folder holds an earlier run and
            ``ckpt_path`` does not resume it (``last``, or a checkpoint inside the folder).
    """
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    if output_dir in _held:
        return
    fd = os.open(output_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(
            f"{output_dir} is in use by another pagan-train (pid {holder}); a run folder has "
            f"one writer. Wait for it to end, or give this run another hydra.run.dir"
        ) from None
    used = [name for name in RUN_FILES if _nonempty(output_dir / name)]
    if used and not _resumes(output_dir, ckpt_path):
        os.close(fd)
        raise ConfigError(
            f"{output_dir} already holds a run ({', '.join(used)}). Resume it with "
            f"ckpt_path=last, or start the new run in another folder (leave hydra.run.dir "
            f"out for a fresh dated one)"
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[output_dir] = fd


def release(output_dir: Path) -> None:
    """Give up the lock of ``output_dir`` (a multirun's next job may run in this process)."""
    fd = _held.pop(output_dir.resolve(), None)
    if fd is not None:
        os.close(fd)


def _nonempty(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def _resumes(output_dir: Path, ckpt_path: str | None) -> bool:
    if ckpt_path is None:
        return False
    return ckpt_path == "last" or Path(ckpt_path).resolve().is_relative_to(output_dir)


def run_dir(ckpt_path: str) -> str:
    """The run folder of ``<run>/checkpoints/<file>.ckpt``."""
    return str(Path(ckpt_path).resolve().parent.parent)


def row_name(job_dir: Path) -> str:
    """``vae`` or the job's ``variant`` (from its ``.hydra/hydra.yaml``), else ``?``."""
    hydra_yaml = job_dir / ".hydra" / "hydra.yaml"
    if not hydra_yaml.exists():
        return "?"
    choices = OmegaConf.load(hydra_yaml).hydra.runtime.choices
    return "vae" if choices.get("model") == "vae" else str(choices.get("variant", "?"))
