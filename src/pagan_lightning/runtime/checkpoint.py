"""Checkpoints that survive a kill mid-save, load without running code, and resume exactly.

- :class:`AtomicCheckpointIO` (a Lightning ``CheckpointIO`` plugin) writes each checkpoint to a
  temporary file in the same folder and renames it over the target, so a kill during a save
  leaves the previous ``last.ckpt`` intact; it loads with :func:`load_checkpoint`.
- :func:`load_checkpoint` loads with ``weights_only=True`` (tensors and plain containers only:
  a pickle that would run code is refused) and turns missing, corrupt and foreign files into
  one :class:`CheckpointError` that says what is wrong; :func:`load_module` /
  :func:`module_from_checkpoint` rebuild the trained module from it, refusing every class not
  defined in a trusted package (:mod:`pagan_lightning.runtime.trust`).
- :func:`rng_state` / :func:`set_rng_state` capture the random generators (torch CPU and CUDA,
  NumPy, Python) as tensors and plain values, so that they pass ``weights_only`` loading.
"""

import errno
import inspect
import os
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from pagan_lightning.runtime.errors import DiskFullError, UserError
from pagan_lightning.runtime.safe_files import safe_load
from pagan_lightning.runtime.trust import (
    UntrustedError,
    check_tree,
    packages,
    recorded_for,
    resolve,
)

MARKER = "pagan_lightning"  # checkpoint entry written by this project's modules


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, unsafe or not from this project."""


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a pagan-lightning checkpoint safely (``torch.load(weights_only=True)``).

    Raises:
        CheckpointError: the file does not exist, is truncated or corrupt, holds objects
            outside the weights-only allow-list (a pickle that could run code), or is not a
            checkpoint written by this project.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; give a .ckpt file in it")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    checkpoint = safe_load(path, "checkpoint", error=CheckpointError, map_location=map_location)
    if not isinstance(checkpoint, dict) or MARKER not in checkpoint:
        keys = sorted(checkpoint)[:8] if isinstance(checkpoint, dict) else type(checkpoint)
        raise CheckpointError(
            f"{path} is not a pagan-lightning checkpoint (no {MARKER!r} entry; found {keys})"
        )
    return checkpoint


def check_weights(saved: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` when a checkpoint's weights do not fit the model.

    Names the first missing, unexpected and differently shaped entries, which is what a
    checkpoint of another model or another network width looks like.
    """
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    shapes = [
        f"{k} {tuple(saved[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in saved and saved[k].shape != v.shape
    ]
    problems = [
        f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
        for what, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape (checkpoint vs model)", shapes),
        )
        if keys
    ]
    if problems:
        raise CheckpointError(
            "the checkpoint's weights do not fit this model (another model, or other network "
            "sizes: resume with the run's own config) - " + "; ".join(problems)
        )


def load_module(
    path: str | os.PathLike,
    map_location: Any = "cpu",
    trusted: Iterable[str] = (),
    **parts: Any,
) -> pl.LightningModule:
    """The trained module (PAGAN, or any module of this project) saved in a checkpoint file;
    :func:`load_checkpoint` then :func:`module_from_checkpoint`, trusting ``trusted`` and the
    packages that the run which wrote it trusted (``trusted`` in the ``config_resolved.yaml``
    of ``<run>/checkpoints/<file>.ckpt``)."""
    checkpoint = load_checkpoint(path, map_location)
    trusted = (*recorded_for(path), *trusted)
    return module_from_checkpoint(checkpoint, map_location, trusted, **parts)


def module_from_checkpoint(
    checkpoint: dict[str, Any],
    map_location: Any = "cpu",
    trusted: Iterable[str] = (),
    **parts: Any,
) -> pl.LightningModule:
    """Rebuild the module of a checkpoint loaded by :func:`load_checkpoint`.

    The module class and every ``_target_`` of its hyper-parameters are resolved and must be
    classes defined in this project, ``torch.optim``, ``torch.nn`` or one of the ``trusted``
    packages (:func:`pagan_lightning.runtime.trust.resolve`; the module a subclass of this project's
    modules), before anything is built. ``parts`` replace hyper-parameters by built objects, as
    ``LightningModule.load_from_checkpoint`` does (a part built in Python whose arguments the
    checkpoint could not record must be given here).
    """
    trusted = packages(trusted)
    hparams = {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if k not in parts}
    try:
        module = resolve(checkpoint[MARKER].get("module"), trusted, base=ExactResume)
        check_tree(hparams, trusted)
    except UntrustedError as err:
        raise CheckpointError(f"the checkpoint names an untrusted object: {err}") from None
    try:
        inspect.signature(module).bind(**hparams, **parts)
    except TypeError as err:
        raise CheckpointError(
            f"the checkpoint's hyper-parameters do not fit {module_name(module)} ({err}): "
            "it was written by another version of the class"
        ) from None
    model: pl.LightningModule = module(**hparams, **parts)
    model.on_load_checkpoint(checkpoint)  # checks the weights fit (check_weights)
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(map_location)


def module_name(cls: type) -> str:
    """``<module>.<qualname>`` of a class: how checkpoints name it."""
    return f"{cls.__module__}.{cls.__qualname__}"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save to ``.<name>.tmp-<pid>`` next to the target, fsync, then ``os.replace`` it."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            self.write(checkpoint, tmp)
            os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file
        except (OSError, RuntimeError) as err:
            # a full disk: OSError ENOSPC from the file, or torch's zip writer's "unexpected
            # pos" error with that OSError as its context
            causes = (err, err.__context__, err.__cause__)
            if not any(getattr(c, "errno", None) in (errno.ENOSPC, errno.EDQUOT) for c in causes):
                raise
            raise DiskFullError(
                f"writing {path} failed: the device is full or refused the write "
                f"({str(err).strip().splitlines()[0]}). The checkpoints already written are "
                f"intact (each is written to a temporary file, then renamed); free some space, "
                f"then resume with ckpt_path=last"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)

    def write(self, checkpoint: dict[str, Any], tmp: Path) -> None:
        """Write the whole checkpoint to ``tmp`` and flush it to disk."""
        with open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())

    def load_checkpoint(
        self, path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path, map_location or "cpu")


def rng_state() -> dict[str, Any]:
    """The states of every global random generator, as tensors and plain values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators captured by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class ExactResume:
    """LightningModule mixin: mark checkpoints as this project's and carry the RNG states.

    The states are captured when a checkpoint is written (under DDP, every rank's, gathered)
    and restored at ``on_train_start`` of a run resumed from it (``ckpt_path=...``), so the z
    draws, encoder noise and augmentations after the resume point are those of an
    uninterrupted run, on every rank.

    Under DDP every rank starts from the same seed (identical initial weights); a fresh run
    then offsets each rank's torch seed by its rank so that the ranks draw different z, noise
    and augmentations. A checkpoint without every rank's states (written by another number of
    processes) restores rank 0's and offsets by rank and step: the run goes on, not exactly.
    """

    _rng_to_restore: dict[str, Any] | None = None
    _rng_by_rank: list[dict[str, Any]] | None = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = rng_state()
        checkpoint[MARKER] = {"module": module_name(type(self)), "rng": state}
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            by_rank: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(by_rank, state)  # every rank saves alike
            checkpoint[MARKER]["rng_by_rank"] = by_rank

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_weights(checkpoint.get("state_dict", {}), self.state_dict())
        self._rng_to_restore = checkpoint.get(MARKER, {}).get("rng")
        self._rng_by_rank = checkpoint.get(MARKER, {}).get("rng_by_rank")

    def on_train_start(self) -> None:
        world, rank = self.trainer.world_size, self.global_rank
        resumed = self._rng_to_restore is not None and self.trainer.ckpt_path is not None
        if resumed and self._rng_by_rank is not None and len(self._rng_by_rank) == world:
            set_rng_state(self._rng_by_rank[rank])
        else:
            if resumed:
                set_rng_state(self._rng_to_restore)
            if world > 1:
                torch.manual_seed(torch.initial_seed() + rank + world * self.trainer.global_step)
        self._rng_to_restore = self._rng_by_rank = None
