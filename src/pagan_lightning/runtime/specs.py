"""Parts as built objects or as config specs, and the spec a checkpoint records for each.

A part of a model (a network, the augmenter, an objective, an optimizer factory) is given
either built (``Generator(...)``, ``functools.partial(torch.optim.Adam, lr=2e-4)``) or as a
Hydra spec (a mapping with ``_target_``). :func:`build` turns either into the object;
:func:`spec_of` gives the spec that rebuilds a built object, which is what a checkpoint stores:
a :class:`Rebuildable` records the arguments it was constructed with, a partial its function
and keywords.
"""

import functools
import inspect
from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate

from pagan_lightning.runtime.errors import ConfigError

PLAIN = (bool, int, float, str, type(None))
UNRECORDED = "unrecorded"  # the spec of a part whose arguments could not be recorded


class Rebuildable:
    """A part that remembers the arguments it was built with (``init_arguments``, defaults
    included), so that a checkpoint can name how to rebuild it. Subclass it (this project's
    networks, augmenters and objectives do) and a model built in Python saves checkpoints that
    :func:`pagan_lightning.runtime.checkpoint.load_module` rebuilds."""

    init_arguments: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError:  # wrong arguments: let __init__ raise its own error
            return obj
        bound.apply_defaults()
        arguments = dict(list(bound.arguments.items())[1:])
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if param.kind is param.VAR_KEYWORD:
                arguments |= arguments.pop(name, {})
            elif param.kind is param.VAR_POSITIONAL and arguments.pop(name, ()):
                return obj  # positional varargs have no names to record
        object.__setattr__(obj, "init_arguments", arguments)
        return obj


def _value_spec(value: Any) -> Any:
    """A plain (YAML-able) form of an argument value, or ``UNRECORDED``."""
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, list | tuple):
        items = [_value_spec(v) for v in value]
        return UNRECORDED if UNRECORDED in items else items
    if isinstance(value, Mapping):
        items = {str(k): _value_spec(v) for k, v in value.items()}
        return UNRECORDED if UNRECORDED in items.values() else items
    spec = spec_of(value)
    return UNRECORDED if isinstance(spec, str) else spec


def spec_of(obj: Any) -> dict[str, Any] | str:
    """The Hydra spec that rebuilds ``obj``: ``{_target_: <class>, **init_arguments}`` of a
    :class:`Rebuildable`, ``{_target_: <function>, _partial_: true, **keywords}`` of a
    ``functools.partial``; for anything else the string ``"unrecorded: <class>"``."""
    if isinstance(obj, functools.partial) and not obj.args:
        target = f"{obj.func.__module__}.{obj.func.__qualname__}"
        spec = {"_target_": target, "_partial_": True, **_plain(obj.keywords)}
    elif isinstance(obj, Rebuildable) and hasattr(obj, "init_arguments"):
        target = f"{type(obj).__module__}.{type(obj).__qualname__}"
        spec = {"_target_": target, **_plain(obj.init_arguments)}
    else:
        return f"{UNRECORDED}: {type(obj).__module__}.{type(obj).__qualname__}"
    return f"{UNRECORDED}: {target}" if UNRECORDED in spec.values() else spec


def _plain(arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _value_spec(value) for name, value in arguments.items()}


def build(name: str, part: Any) -> Any:
    """The object of ``part``: a spec (mapping with ``_target_``) is instantiated, a built
    object is returned as it is, ``None`` stays ``None``.

    Raises:
        ConfigError: ``part`` is a spec recorded as unrecorded (a part built in Python from a
            class that does not record its arguments): it must be passed built.
    """
    if isinstance(part, str) and part.startswith(UNRECORDED):
        raise ConfigError(
            f"{name}: the checkpoint does not record how to build it ({part}; it was built in "
            f"Python from a class that does not subclass pagan_lightning.Rebuildable): "
            f"pass it built, e.g. load_module(path, {name}=...)"
        )
    if isinstance(part, Mapping):
        return instantiate(part, _convert_="all")
    return part


def spec(part: Any) -> Any:
    """What a checkpoint records for ``part``: plain values and specs stay as they are, a
    built object gives :func:`spec_of`; mappings and lists are recorded entry by entry."""
    if isinstance(part, PLAIN):
        return part
    if isinstance(part, list | tuple):
        return [spec(value) for value in part]
    if isinstance(part, Mapping):
        if "_target_" in part:
            return dict(part)
        return {name: spec(value) for name, value in part.items()}
    return spec_of(part)
