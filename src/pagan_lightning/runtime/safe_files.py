"""Refuse files that would run code when a library unpickles them.

torch-fidelity loads the Inception weights with ``torch.load(weights_only=False)``: a pickle
whose ``__reduce__`` calls ``os.system`` would run. :func:`check_no_code` loads such a file
first with ``weights_only=True`` (tensors and plain containers only), so that a file that
could run code, or a corrupt one, is one :class:`UnsafeFileError` naming it before the library
touches it.
"""

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from pagan_lightning.runtime.errors import UserError


class UnsafeFileError(UserError):
    """A file to be unpickled could run code, or is corrupt."""


def unpickling_reason(err: pickle.UnpicklingError) -> str:
    """The line of torch's weights-only refusal that names the offending global or type."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    named = [
        line
        for line in lines
        if "global" in line.lower() or "but got" in line or "Unsupported operand" in line
    ]
    return (named or lines or ["unpickling refused"])[0].strip()


def safe_load(
    path: str | os.PathLike,
    what: str,
    error: type[UserError] = UnsafeFileError,
    map_location: Any = "cpu",
) -> Any:
    """``torch.load(path, weights_only=True)``; a file that could run code, or a corrupt one,
    raises ``error`` naming it.

    Args:
        path: a file written by ``torch.save``.
        what: how the error names the file (e.g. the config key that gave it).
        error: the :class:`UserError` subclass to raise.
        map_location: as for ``torch.load``.
    """
    try:
        return torch.load(Path(path), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise error(
            f"refused to load {what} {path}: it is not a torch.save file of tensors and plain "
            f"containers only (anything else could run code when loaded; files are loaded "
            f"with weights_only=True: {unpickling_reason(err)}). Use the original file."
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError) as err:
        # an empty file: EOFError without a message; a text file: KeyError of a byte
        lines = str(err).strip().splitlines()
        reason = lines[0] if lines else type(err).__name__
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        raise error(
            f"{what} {path} is not a torch.save file, or a corrupt or truncated one ({size} "
            f"bytes: {reason})"
        ) from None


def check_no_code(path: str | os.PathLike, what: str) -> None:
    """Raise :class:`UnsafeFileError` unless ``path`` loads with ``weights_only=True``
    (before a library that unpickles it in full gets it)."""
    safe_load(path, what)
