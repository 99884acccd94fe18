"""Errors about the user's input (config, files): reported as one clear message, no traceback."""


class UserError(Exception):
    """Base class of the errors that name a bad input and how to fix it."""


class DataNotFoundError(UserError, FileNotFoundError):
    """A dataset is neither on disk nor downloadable."""


class ConfigError(UserError, ValueError):
    """A config value is out of its allowed range."""


class MissingWeightsError(UserError, FileNotFoundError):
    """The weights of a metrics feature extractor are neither on disk nor downloadable."""


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or Inf; names the step and the game."""
