"""Errors about the user's input (config, files): reported as one clear message, no traceback;
anything else is a bug, reported as such above its traceback."""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

BUG = "unexpected error, a bug: please report it with the traceback below"


class UserError(Exception):
    """Base class of the errors that name a bad input and how to fix it."""


class DataNotFoundError(UserError, FileNotFoundError):
    """A dataset is neither on disk nor downloadable."""


class RunNotFoundError(UserError, FileNotFoundError):
    """A folder named as runs to read holds none."""


class CorruptDataError(UserError, ValueError):
    """A data file is on disk but truncated or corrupt."""


class ConfigError(UserError, ValueError):
    """A config value is out of its allowed range."""


class MissingWeightsError(UserError, FileNotFoundError):
    """The weights of a metrics feature extractor are neither on disk nor downloadable."""


class NonFiniteLossError(UserError, RuntimeError):
    """A training loss became NaN or Inf; names the step and the game."""


class NonFiniteError(UserError, ValueError):
    """A model's weights or an evaluation's results are NaN or Inf."""


class DiskFullError(UserError, OSError):
    """The disk filled up while a file was written; the earlier files are intact."""


def message(err: UserError) -> str:
    """What to tell the user about ``err``: its message, or, for an error re-raised by a
    DataLoader worker (whose message is the worker's whole traceback), the original one."""
    text = str(err)
    if "Original Traceback" not in text:
        return text
    last = text.strip().splitlines()[-1]
    return last.removeprefix(f"{type(err).__module__}.{type(err).__qualname__}: ")


@contextmanager
def bugs_reported(log: logging.Logger) -> Iterator[None]:
    """Log :data:`BUG` first when an exception other than a :class:`UserError` (or an exit)
    escapes, then let it show its traceback."""
    try:
        yield
    except (UserError, SystemExit, KeyboardInterrupt):
        raise
    except Exception:
        log.error(BUG)
        raise


def exit_with(err: UserError, log: logging.Logger) -> NoReturn:
    """Log ``err`` and end the command with its one-line message (exit status 1)."""
    log.error("%s", message(err))
    sys.exit(f"error: {message(err)}")
