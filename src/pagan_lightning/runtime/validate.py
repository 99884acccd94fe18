"""Config checks that run before any work: the schema is the code's own signatures.

Every node with a ``_target_`` is checked against the signature of the class or function it
names: unknown keys, values of the wrong type (for plain annotations: ``int``, ``float``,
``bool``, ``str``, ``Literal[...]`` and their ``| None``) and, for sizes and rates that must
be positive (learning rates, batch, latent and image sizes, widths, ``n_dis``), values <= 0.
Each error names the full key and what is allowed. Unknown dataset and variant names are
caught earlier by Hydra itself, which lists the available options.
"""

import contextlib
import inspect
import math
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import torch
from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from pagan_lightning.runtime import trust
from pagan_lightning.runtime.errors import ConfigError

NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
INSTANTIATE_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
NON_NEGATIVE = {"num_workers", "val_size", "every_n_train_steps"}  # may be 0, not less
POSITIVE = {
    "every_n_steps",
    "n_samples",
    "val_check_interval",
    "log_every_n_steps",
    "lr",
    "batch_size",
    "latent_dim",
    "image_size",
    "channels",
    "ch",
    "n_dis",
    "hidden",
    "check_finite_every",
    "total_iters",
}
HINTS = {"total_iters": " (model/lr_schedule=linear ends at trainer.max_steps: set it > 0)"}
TOP_LEVEL = {
    "task_name",
    "seed",
    "ckpt_path",
    "optimized_metric",
    "trusted",
    "resume_changes",
    "data",
    "model",
    "trainer",
    "callbacks",
    "logger",
    "paths",
    "hydra",
}


def _targets(node: Any, path: str) -> Iterator[tuple[str, DictConfig]]:
    """Every ``_target_`` node below ``node`` with its dotted key."""
    if isinstance(node, DictConfig):
        if "_target_" in node:
            yield path, node
        for key in node:
            if not OmegaConf.is_missing(node, key):
                yield from _targets(node[key], f"{path}.{key}" if path else str(key))
    elif isinstance(node, ListConfig):
        for i, item in enumerate(node):
            yield from _targets(item, f"{path}[{i}]")


def _allowed_types(annotation: Any) -> tuple[tuple[type, ...], tuple[Any, ...]] | None:
    """(types, literal values) accepted by a plain annotation; None for anything else."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return (), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds, literals = (), ()
        for arg in typing.get_args(annotation):
            if arg is type(None):
                kinds += (type(None),)
                continue
            if arg is torch.Tensor:  # torch.optim's `lr: float | Tensor`: no config is a tensor
                continue
            part = _allowed_types(arg)
            if part is None:
                return None
            kinds, literals = kinds + part[0], literals + part[1]
        return kinds, literals
    if annotation is float:
        return (float, int), ()
    if annotation is Mapping or typing.get_origin(annotation) in (Mapping, dict):
        return (dict,), ()  # a mapping in the config is a DictConfig node, not checked here
    if annotation in (int, bool, str):
        return (annotation,), ()
    return None


def _check_value(key: str, value: Any, annotation: Any) -> None:
    allowed = _allowed_types(annotation)
    if allowed is None:
        return
    kinds, literals = allowed
    if value in literals and not isinstance(value, bool):
        return
    # bool is an int in Python, but `n_dis: true` is a mistake
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        options = [repr(v) for v in literals]
        options += ["null" if k is type(None) else k.__name__ for k in kinds]
        raise ConfigError(f"{key}={value!r} is not allowed; expected {' | '.join(options)}")


def _check_betas(key: str, value: Any) -> None:
    ok = len(value) == 2 and all(isinstance(b, float | int) and 0 <= b < 1 for b in value)
    if not ok:
        raise ConfigError(f"{key}={value} must be two numbers in [0, 1), e.g. [0.5, 0.999]")


def _check_positive(key: str, value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, int | float) and not isinstance(v, bool) and v <= 0:
            hint = HINTS.get(key.rsplit(".", 1)[-1], "")
            raise ConfigError(f"{key}={value!r} must be positive{hint}")


def _signature(target: Any) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """(parameters, type hints, accepts any key) of a callable; the ``**kwargs`` of this
    project's classes are followed up their bases (``super().__init__(**kwargs)``), those of
    other classes accept any key."""
    ours = getattr(target, "__module__", "").startswith("pagan_lightning.")
    if inspect.isclass(target) and ours:  # our classes pass **kwargs on to their bases
        functions = [c.__init__ for c in inspect.getmro(target)]
    else:  # elsewhere **kwargs may go anywhere (e.g. DDPStrategy -> DistributedDataParallel)
        functions = [target.__init__ if inspect.isclass(target) else target]
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for function in functions:
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # builtins without a signature: accept anything
            return params, hints, True
        with contextlib.suppress(Exception):  # unresolvable forward references: keys only
            hints = typing.get_type_hints(function) | hints
        own = signature.parameters
        params |= {k: p for k, p in own.items() if k not in params and p.kind in NAMED}
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own.values()):
            return params, hints, False
        if function is object.__init__:
            break
    return params, hints, True


def check_node(path: str, node: DictConfig) -> None:
    """Check one ``_target_`` node against the signature of its target."""
    try:
        target = get_object(node._target_)
    except Exception as err:
        raise ConfigError(f"{path}._target_={node._target_!r} cannot be imported: {err}") from None
    params, hints, open_ended = _signature(target)
    for key in node:
        if key in INSTANTIATE_KEYS:
            continue
        full = f"{path}.{key}"
        if key not in params:
            if open_ended:
                continue
            allowed = ", ".join(k for k in params if k != "self")
            raise ConfigError(f"unknown key {full} for {node._target_}; allowed keys: {allowed}")
        if OmegaConf.is_missing(node, key):
            continue
        value = node[key]
        if isinstance(value, DictConfig | ListConfig):
            if key in POSITIVE and isinstance(value, ListConfig):
                _check_positive(full, OmegaConf.to_object(value))
            if key == "betas":
                _check_betas(full, OmegaConf.to_object(value))
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{full}={value} must be a finite number")
        if key in hints:
            _check_value(full, value, hints[key])
        if key in POSITIVE:
            _check_positive(full, value)
        if key in NON_NEGATIVE and isinstance(value, int) and value < 0:
            raise ConfigError(f"{full}={value} must be 0 or more")


def check_config(cfg: DictConfig) -> None:
    """Reject a composed ``pagan-train`` config with unknown or invalid entries.

    Raises:
        ConfigError: naming the first offending key and the allowed keys or values.
    """
    check_nodes(cfg, TOP_LEVEL)
    check_run(cfg)
    check_trusted(cfg)


def check_nodes(cfg: DictConfig, top_level: set[str]) -> None:
    """Reject top-level keys outside ``top_level`` and check every ``_target_`` node
    (:func:`check_node`); any entry point's config."""
    unknown = sorted(set(cfg) - top_level)
    if unknown:
        allowed = ", ".join(sorted(top_level))
        raise ConfigError(f"unknown top-level key(s) {', '.join(unknown)}; allowed: {allowed}")
    for key in cfg:  # in config order: data before the model that interpolates it
        if key != "hydra" and not OmegaConf.is_missing(cfg, key):
            for path, node in _targets(cfg[key], str(key)):
                check_node(path, node)


EVALUATE_TOP_LEVEL = {"ckpt_path", "data", "data_dir", "aug_baseline", "trusted", "device"}
EVALUATE_TOP_LEVEL |= {"output_dir", "figures", "metrics", "paths", "hydra"}
FIGURES = ("n_samples", "n_reconstructions", "n_interpolations", "steps")


def check_evaluate(cfg: DictConfig) -> None:
    """``pagan-evaluate``'s config before any work: known keys, the metrics' keys and types
    (its node builds :class:`~pagan_lightning.metrics.MetricsConfig`) and the figures'
    counts."""
    check_nodes(cfg, EVALUATE_TOP_LEVEL)  # the metrics node too: MetricsConfig's signature
    for key in cfg.figures:
        value = cfg.figures[key]
        if key not in FIGURES:
            raise ConfigError(f"unknown key figures.{key}; allowed keys: {', '.join(FIGURES)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"figures.{key}={value!r} must be a positive integer")


def check_run(cfg: DictConfig) -> None:
    """The settings that no signature states: the seed, a batch that BatchNorm can normalise,
    the channels that images are read with, several devices only with a strategy that runs
    them, the resume's allowed changes."""
    seed = cfg.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32
    ):
        raise ConfigError(f"seed={seed!r} must be an integer in [0, 2**32) or null")
    batch = OmegaConf.select(cfg, "data.batch_size")
    if isinstance(batch, int) and batch == 1:
        raise ConfigError("data.batch_size=1: BatchNorm needs at least 2 images a batch")
    channels = OmegaConf.select(cfg, "data.channels")
    if isinstance(channels, int) and channels not in (1, 3):
        raise ConfigError(
            f"data.channels={channels}: images are read as grayscale (1) or RGB (3) channels"
        )
    devices = OmegaConf.select(cfg, "trainer.devices")
    several = (isinstance(devices, int) and devices > 1) or (
        isinstance(devices, ListConfig) and len(devices) > 1
    )
    if several and OmegaConf.select(cfg, "trainer.strategy") is None:
        raise ConfigError(
            f"trainer.devices={devices} needs a strategy that runs them: add trainer=ddp "
            f"(and trainer.accelerator=cpu on a CPU)"
        )
    changes = cfg.get("resume_changes", [])
    if not isinstance(changes, ListConfig | list) or not all(isinstance(k, str) for k in changes):
        raise ConfigError(f"resume_changes={changes!r} must be a list of keys, e.g. [seed]")


def check_trusted(cfg: DictConfig) -> None:
    """Every class that ``cfg.model`` names is defined in a trusted package (this project's,
    ``torch.optim``, ``torch.nn`` and ``cfg.trusted``), so that the run's checkpoints load in
    ``pagan-evaluate`` and the probe, which trust what the run recorded."""
    names = cfg.get("trusted", [])
    if not isinstance(names, ListConfig | list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"trusted={names!r} must be a list of package names, e.g. [my_pagan]")
    model = OmegaConf.to_container(cfg.model, resolve=True) if "model" in cfg else {}
    try:
        trust.check_tree(model, trust.packages(names))
    except trust.UntrustedError as err:
        raise ConfigError(f"model.{err}") from None
