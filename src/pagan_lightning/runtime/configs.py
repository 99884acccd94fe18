"""What the entry points share about configs: where ``conf/`` is, how a config becomes
objects (Hydra ``instantiate``), and the resolvers configs may use, so that no entry point
imports another.

Resolvers: ``${auto_precision:}`` is ``bf16-mixed`` where bf16 runs natively, else ``32-true``
(:func:`pagan_lightning.runtime.hardware.auto_precision`).
"""

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from pagan_lightning.runtime import hardware
from pagan_lightning.runtime.errors import ConfigError

OmegaConf.register_new_resolver("auto_precision", hardware.auto_precision, replace=True)


def config_dir() -> str:
    """``conf/`` shipped inside the wheel, else the repository's top-level ``conf/``."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "conf"
    return str(packaged if packaged.is_dir() else package.parents[1] / "conf")


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


def automatic_precision(cfg: DictConfig) -> str | None:
    """What ``trainer.precision: ${auto_precision:}`` chose and why, or None when the config
    sets the precision itself."""
    if "auto_precision" not in str(OmegaConf.to_container(cfg.trainer)["precision"]):
        return None
    return (
        f"trainer.precision={cfg.trainer.precision} (automatic: {hardware.bf16_support()}; "
        f"override with trainer.precision=32-true or bf16-mixed)"
    )
