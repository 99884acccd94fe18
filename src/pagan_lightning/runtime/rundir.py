"""Run folders: one writer at a time, a used folder only resumed, and what a folder tells.

:class:`GuardRunFolder` (a Hydra callback of ``pagan-train``, ``pagan-evaluate`` and
``pagan-train-classifier``) refuses a folder that cannot be written, or that already holds a
run's results, unless the command resumes that run from one of its own checkpoints, before
Hydra writes anything there; a resume gets its own ``.hydra/resume<N>/``, so that the first
attempt's ``.hydra/`` files stay as they were. A training folder holds a run once it holds a
checkpoint or a logged step: an attempt that failed before those leaves nothing to resume, and
the folder takes a new run. :func:`claim` (rank 0, before anything is
written) then takes an exclusive ``flock`` on ``<run>/.lock`` for the life of the process
(released by the kernel however the process ends, SIGKILL included).
"""

import fcntl
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

from pagan_lightning.runtime.errors import ConfigError

LOCK = ".lock"
# what a pagan-train run that took a step leaves in its folder
RUN_FILES = ("checkpoints", "csv/metrics.csv")

_held: dict[Path, int] = {}  # run folder -> file descriptor of its lock, kept open


def claim(output_dir: Path, ckpt_path: str | None, used_by: tuple[str, ...] = RUN_FILES) -> None:
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
        _lock(fd, output_dir)
        check_folder(output_dir, ckpt_path, used_by)
    except ConfigError:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[output_dir] = fd


def check_writable(output_dir: Path, option: str = "hydra.run.dir") -> None:
    """Create ``output_dir`` and check that this user may write there; refuse it in one line
    if a file lies in its path, or the folder or one of its parents cannot be written (mode
    bits, a read-only mount), naming the ``option`` that gave it."""
    existing = output_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{option}={output_dir}: {existing} is a file, not a folder; give a "
            f"{option} whose parents are folders"
        )
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{option}={output_dir}: {existing} is not writable by this user "
            f"({err.strerror}); give a {option} in a folder you can write"
        ) from None
    try:
        with tempfile.TemporaryFile(dir=output_dir):
            pass
    except OSError as err:
        raise ConfigError(
            f"{option}={output_dir}: {output_dir} is not writable by this user "
            f"({err.strerror}); give a {option} in a folder you can write"
        ) from None


def check_free(output_dir: Path) -> None:
    """Refuse ``output_dir`` if another process holds its lock (:func:`claim`); this one
    does not keep it."""
    if (output_dir / LOCK).is_file() and output_dir not in _held:
        fd = os.open(output_dir / LOCK, os.O_RDONLY)
        try:
            _lock(fd, output_dir)
        finally:
            os.close(fd)


def check_folder(
    output_dir: Path,
    ckpt_path: str | None,
    used_by: tuple[str, ...] = RUN_FILES,
    option: str = "hydra.run.dir",
) -> None:
    """Refuse ``output_dir`` if it holds any of ``used_by`` (non-empty), unless these are a
    training run's files (:data:`RUN_FILES`) and ``ckpt_path`` resumes that run; the error
    names the ``option`` that gave the folder."""
    used = [name for name in used_by if _nonempty(output_dir / name)]
    if used and used_by != RUN_FILES:
        raise ConfigError(
            f"{output_dir} already holds results ({', '.join(used)}): give this command another "
            f"{option}, or leave it out for a fresh dated folder"
        )
    if used and not _resumes(output_dir, ckpt_path):
        raise ConfigError(
            f"{output_dir} already holds a run ({', '.join(used)}). Resume it with "
            f"ckpt_path=last, or start the new run in another folder (leave {option} "
            f"out for a fresh dated one)"
        )


# what a resume must keep: the keys that decide the training's course
FIXED_ON_RESUME = (
    "seed",
    "model",
    "data",
    "trainer.precision",
    "trainer.devices",
    "trainer.num_nodes",
)
# ... except where the data comes from and how it is loaded
FREE_ON_RESUME = ("data.num_workers", "data.data_dir", "data.system_dir", "data.download")


def flat(tree: object, prefix: str = "") -> dict[str, object]:
    """A nested mapping as ``{dotted.key: leaf}`` (lists are leaves)."""
    if not isinstance(tree, dict) or not tree:
        return {prefix.rstrip("."): tree}
    return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}{key}.").items()}


def changed_on_resume(cfg: DictConfig, output_dir: Path) -> list[str]:
    """The keys of :data:`FIXED_ON_RESUME` whose values differ from the run's
    ``config_resolved.yaml`` (the first attempt's), but for :data:`FREE_ON_RESUME` and
    ``cfg.resume_changes``; none when the folder holds no run yet."""
    recorded = output_dir / "config_resolved.yaml"
    if not cfg.get("ckpt_path") or not recorded.is_file() or not holds_run(output_dir):
        return []
    before = flat(OmegaConf.to_container(OmegaConf.load(recorded)))
    now = {k: v for key in FIXED_ON_RESUME for k, v in flat(_resolved(cfg, key), f"{key}.").items()}

    def within(key: str, prefixes: tuple[str, ...]) -> bool:
        return any(key == p or key.startswith(f"{p}.") for p in prefixes)

    free = (*FREE_ON_RESUME, *cfg.get("resume_changes", []))
    keys = sorted(k for k in before.keys() | now.keys() if within(k, FIXED_ON_RESUME))
    return [k for k in keys if not within(k, free) and before.get(k) != now.get(k)]


def changes_refused(changed: list[str]) -> ConfigError:
    """The one-line refusal of a resume that changes the keys ``changed``."""
    return ConfigError(
        f"this resume changes {', '.join(changed)} from the run's config_resolved.yaml: "
        f"resume with the run's values, or allow them with "
        f"resume_changes=[{','.join(changed)}] (recorded beside the original config)"
    )


def _resolved(cfg: DictConfig, key: str) -> object:
    """The value at the dotted ``key`` of ``cfg``, interpolations resolved."""
    value = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


class GuardRunFolder(Callback):
    """Before Hydra writes ``.hydra/`` and the log of a single run: refuse, in one line and
    with nothing written there, a folder that cannot be written, that another process holds,
    or that holds any of ``used_by`` (results; a training run's may be resumed, see
    :func:`check_folder`), and point a resume's ``.hydra/`` files to ``.hydra/resume<N>/``
    (a training folder whose earlier attempt took no step gets the new run's files instead).
    A multirun's sweep folder and the job folders it already holds get the same checks before
    its first job, and a resumed sweep's jobs write ``.hydra/resume<N>/``. The ranks that
    Lightning's DDP launcher starts (``LOCAL_RANK`` > 0) write no ``.hydra/`` at all: rank 0
    has."""

    def __init__(self, used_by: tuple[str, ...] | list[str] = RUN_FILES) -> None:
        self.used_by = tuple(used_by)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir).resolve()
        training = self.used_by == RUN_FILES
        resumes = config.get("ckpt_path") if training else None
        try:
            check_writable(sweep_dir, "hydra.sweep.dir")
            jobs = [d for d in sorted(sweep_dir.iterdir()) if d.is_dir()]
            for job in jobs:
                check_free(job)
                check_folder(job, resumes, self.used_by, "hydra.sweep.dir")
        except ConfigError as err:
            sys.exit(f"error: {err}")
        subdir = config.hydra.output_subdir
        if resumes and subdir and any((job / subdir).exists() for job in jobs):
            n = 1
            while any((job / subdir / f"resume{n}").exists() for job in jobs):
                n += 1
            with read_write(config.hydra.overrides):  # each job's config is composed from these
                config.hydra.overrides.hydra.append(f"hydra.output_subdir={subdir}/resume{n}")

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        output_dir = Path(config.hydra.run.dir).resolve()
        with open_dict(config.hydra):
            if os.environ.get("LOCAL_RANK", "0") != "0":
                config.hydra.output_subdir = None
                return
            training = self.used_by == RUN_FILES
            try:
                check_writable(output_dir)
                check_free(output_dir)
                resumes = config.get("ckpt_path") if training else None
                check_folder(output_dir, resumes, self.used_by)
                if resumes and (changed := _changed_if_resolvable(config, output_dir)):
                    raise changes_refused(changed)
            except ConfigError as err:
                sys.exit(f"error: {err}")
            subdir = config.hydra.output_subdir
            earlier = holds_run(output_dir) or not training  # files worth keeping
            if subdir and (output_dir / subdir).exists() and earlier:
                n = 1
                while (output_dir / subdir / f"resume{n}").exists():
                    n += 1
                config.hydra.output_subdir = f"{subdir}/resume{n}"


def _changed_if_resolvable(config: DictConfig, output_dir: Path) -> list[str]:
    """:func:`changed_on_resume` where the keys resolve before Hydra's run starts (a key that
    names ``${hydra:...}`` does not; ``pagan-train`` checks again once it does)."""
    try:
        return changed_on_resume(config, output_dir)
    except OmegaConfBaseException:
        return []


def _lock(fd: int, output_dir: Path) -> None:
    """Take the exclusive lock of ``fd`` (``output_dir``'s lock file) without waiting."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        raise ConfigError(
            f"{output_dir} is in use by another process (pid {holder}); an output folder has "
            f"one writer. Wait for it to end, or give this command another hydra.run.dir"
        ) from None


def release(output_dir: Path) -> None:
    """Give up the lock of ``output_dir`` (a multirun's next job may run in this process)."""
    fd = _held.pop(output_dir.resolve(), None)
    if fd is not None:
        os.close(fd)


def holds_run(output_dir: Path) -> bool:
    """Whether ``output_dir`` holds a training run that took a step (:data:`RUN_FILES`)."""
    return any(_nonempty(output_dir / name) for name in RUN_FILES)


def set_aside_log(output_dir: Path) -> Path | None:
    """Rename the ``csv/metrics.csv`` of a run that saved no checkpoint to
    ``csv/metrics.attempt<N>.csv`` (a new run starts in the folder); returns the new path,
    ``None`` without a log."""
    log = output_dir / "csv" / "metrics.csv"
    if not log.is_file():
        return None
    n = 1
    while (kept := log.with_name(f"metrics.attempt{n}.csv")).exists():
        n += 1
    return log.rename(kept)


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
