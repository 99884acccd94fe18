"""What a checkpoint may name: classes defined in trusted packages, checked by object.

A checkpoint names the LightningModule to rebuild and, in its hyper-parameters, the
``_target_`` of every part. Each name is resolved to the object it denotes and admitted only
if that object is a class whose own ``__module__`` lies in a trusted package (a module of this
project re-exports whatever it imports, so a name such as
``pagan_lightning.runtime.checkpoint.os.system`` starts with a trusted prefix but denotes a
function of ``os``). Nothing is imported outside the trusted packages and nothing is called
before the whole tree passes.
"""

import importlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from pagan_lightning.runtime.errors import UserError

DEFAULT_TRUSTED = ("pagan_lightning", "torch.optim", "torch.nn")
_MISSING = object()


class UntrustedError(UserError):
    """A checkpoint or config names an object outside the trusted packages."""


def packages(extra: Iterable[str] | None = None) -> tuple[str, ...]:
    """The trusted packages: this project's defaults and ``extra`` (``"my_pagan"`` or
    ``"my_pagan."`` alike)."""
    names = [*DEFAULT_TRUSTED, *(str(name).strip().rstrip(".") for name in extra or ())]
    return tuple(dict.fromkeys(name for name in names if name))


def within(module: str, trusted: Iterable[str]) -> bool:
    """Whether the dotted ``module`` is one of ``trusted`` or lies inside one."""
    return any(module == pkg or module.startswith(pkg + ".") for pkg in trusted)


def resolve(name: Any, trusted: tuple[str, ...], base: type | None = None) -> type:
    """The class that ``name`` denotes, if it is defined in a trusted package.

    Only modules inside trusted packages are imported; attributes are then followed one by one
    and the result must be a class (a subclass of ``base`` when given) whose ``__module__`` is
    trusted, so that re-exported modules, functions and builtins are refused.

    Raises:
        UntrustedError: naming ``name``, what it resolved to and the option that trusts it.
    """

    def refuse(why: str) -> UntrustedError:
        package = name.split(".")[0] if isinstance(name, str) and name else "<package>"
        return UntrustedError(
            f"refused to build {name!r}: {why}; trusted packages: {', '.join(trusted)}. If "
            f"you trust its package, add it: trusted=[{package}]"
        )

    if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
        raise refuse("not a dotted class name")
    if not within(name, trusted):
        raise refuse("outside the trusted packages")
    parts = name.split(".")
    for i in range(len(parts), 0, -1):  # the longest module prefix, inside a trusted package
        module = ".".join(parts[:i])
        if not within(module, trusted):
            raise refuse("no such module in the trusted packages")
        try:
            obj: Any = importlib.import_module(module)
            break
        except ModuleNotFoundError as err:
            if err.name is None or not within(module, [err.name]):
                raise refuse(f"importing {module} failed ({err})") from None
        except Exception as err:
            raise refuse(f"importing {module} failed ({type(err).__name__}: {err})") from None
    else:
        raise refuse(f"cannot import {parts[0]} (is it installed, or on PYTHONPATH?)")
    for j in range(i, len(parts)):
        attr = parts[j]
        if attr.startswith("__"):
            raise refuse(f"it reaches the special attribute {attr!r}")
        obj = getattr(obj, attr, _MISSING)
        if obj is _MISSING:
            raise refuse(f"no attribute {attr!r} in {'.'.join(parts[:j])}")
    if not isinstance(obj, type):
        raise refuse(
            f"it is {type(obj).__name__} {getattr(obj, '__qualname__', obj)!r}, not a class"
        )
    if not within(obj.__module__, trusted):
        raise refuse(f"it is the class {obj.__module__}.{obj.__qualname__}")
    if base is not None and not issubclass(obj, base):
        raise refuse(f"it is not a {base.__qualname__}")
    return obj


def targets(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``_target_`` in nested hyper-parameters, with its dotted key."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield f"{path}._target_".lstrip("."), node["_target_"]
        for key, value in node.items():
            yield from targets(value, f"{path}.{key}".lstrip("."))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from targets(value, f"{path}[{i}]")


def interpolations(node: Any, path: str = "") -> Iterator[str]:
    """Keys whose string values are OmegaConf interpolations (``${...}``), which Hydra's
    ``instantiate`` would resolve (and so run resolvers) before any class is built."""
    if isinstance(node, str) and "${" in node:
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from interpolations(value, f"{path}.{key}".lstrip("."))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from interpolations(value, f"{path}[{i}]")


def check_tree(hparams: Any, trusted: tuple[str, ...]) -> None:
    """Resolve every ``_target_`` of ``hparams`` (:func:`resolve`) and refuse interpolations;
    raises :class:`UntrustedError` naming the key of the first one refused."""
    for key in interpolations(hparams):
        raise UntrustedError(f"{key}: an interpolation ('${{...}}'), refused")
    for key, name in targets(hparams):
        try:
            resolve(name, trusted)
        except UntrustedError as err:
            raise UntrustedError(f"{key}: {err}") from None


def recorded(run: str | os.PathLike) -> tuple[str, ...]:
    """The packages that the training run in folder ``run`` trusted (its
    ``config_resolved.yaml``'s ``trusted``); none when it has no such file or key."""
    config = Path(run) / "config_resolved.yaml"
    if not config.is_file():
        return ()
    try:
        names = OmegaConf.select(OmegaConf.load(config), "trusted", default=None)
    except Exception as err:  # a corrupt YAML file: name it, trust nothing from it
        raise UntrustedError(f"cannot read {config} ({type(err).__name__}: {err})") from None
    return tuple(str(name) for name in names or ())


def recorded_for(ckpt_path: str | os.PathLike) -> tuple[str, ...]:
    """:func:`recorded` of the run that wrote ``<run>/checkpoints/<file>.ckpt``; none for a
    checkpoint outside a ``checkpoints`` folder."""
    folder = Path(ckpt_path).resolve().parent
    return recorded(folder.parent) if folder.name == "checkpoints" else ()
