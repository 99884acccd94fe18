"""What the entry points share about configs: where ``conf/`` is and how a config becomes
objects (Hydra ``instantiate``), so that no entry point imports another."""

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from pagan_lightning.errors import ConfigError


def config_dir() -> str:
    """``conf/`` shipped inside the wheel, else the repository's top-level ``conf/``."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if packaged.is_dir() else here.parents[1] / "conf")


def instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a config group such as ``callbacks`` or ``logger``."""
    return [instantiate(spec) for spec in (group or {}).values() if spec is not None]


def instantiate_model(cfg: DictConfig) -> pl.LightningModule:
    """The LightningModule of ``cfg.model``; its parts stay specs that it builds itself.

    Raises:
        ConfigError: the model cannot be built (the innermost error, without Hydra's
            wrapping).
    """
    try:
        return instantiate(cfg.model, _recursive_=False, _convert_="all")
    except InstantiationException as err:
        cause: BaseException = err
        while cause.__cause__ is not None:  # Hydra wraps each nesting level
            cause = cause.__cause__
        raise ConfigError(f"cannot build the model from cfg.model: {cause}") from None
