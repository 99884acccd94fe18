"""Composed configs, tiny networks, quiet trainers and console-script command lines."""

import os
import subprocess
import sys
from pathlib import Path

import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from pagan_lightning.runtime.configs import config_dir
from tests.helpers import zygote

TINY = [  # narrow networks that train in seconds on a CPU
    "model.generator.ch=32",
    "model.encoder.ch=16",
    "model.disc_x.ch=16",
    "model.disc_z.hidden=[32,16]",
    "model.generator.latent_dim=8",
]


def console_script(name: str) -> str:
    """Path of one of the project's console scripts in the running environment."""
    return str(Path(sys.executable).parent / name)


def synthetic_training(data: Path) -> list[str]:
    """``pagan-train`` overrides for tiny networks on the synthetic IDX files under ``data``
    (from :func:`write_mnist_like`, 256 training images: 200 after the hold-out, 12 batches)."""
    return [
        *TINY,
        f"paths.data_dir={data}",
        "data.system_dir=null",
        "data.download=false",
        "data.val_size=56",
        "data.batch_size=16",
        "callbacks.progress_bar=null",
    ]


def cli(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run a command line as ``subprocess.run(..., capture_output=True, text=True)`` does; one
    of the project's console scripts in a fork of a process that imported it
    (:mod:`tests.helpers.zygote`), unless it starts DDP processes of its own."""
    ddp = any(a.startswith(("trainer=ddp", "trainer.devices=", "trainer.strategy=")) for a in args)
    module = args[1:2] == ["-m"] and args[2].startswith("pagan_lightning.cli.")
    if (Path(args[0]).name.startswith("pagan-") or module) and not ddp:
        return zygote.run(args, env=env, cwd=cwd, timeout=timeout)
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def run_cli(args: list[str], env: dict[str, str] | None = None) -> None:
    """Run a console script command line; fail with its stderr when it fails."""
    out = cli(args, env=env)
    assert out.returncode == 0, out.stderr[-3000:]


def offline(data_dir: Path) -> list[str]:
    return [
        f"paths.data_dir={data_dir}",
        "data.system_dir=null",
        "data.download=false",
        "data.val_size=56",
    ]


def compose_train(overrides: list[str], tmp_path: Path) -> DictConfig:
    """Compose ``conf/train.yaml`` as ``pagan-train`` would, with outputs under ``tmp_path``."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "out")
    return cfg


def quiet_trainer(tmp_path: Path, **kwargs) -> pl.Trainer:
    """A CPU Trainer without loggers, checkpoints, progress bar or summary."""
    options = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        "accelerator": "cpu",
    }
    return pl.Trainer(**(options | kwargs))


def importing_tests() -> dict[str, str]:
    """The environment of a subprocess that imports :mod:`tests.helpers` (a config naming a
    test plugin as ``_target_``)."""
    return os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
