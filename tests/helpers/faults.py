"""Faults injected into a model: networks that start returning NaN."""

from pagan_lightning.module import PAGAN


def poison(model: PAGAN, net: str, after_calls: int = 0) -> None:
    """Make ``model.<net>`` return NaN from its ``after_calls``-th call on."""
    calls = {"n": 0}

    def hook(module, inputs, output):
        calls["n"] += 1
        if calls["n"] <= after_calls:
            return None
        if isinstance(output, tuple):  # the encoder's (mu, sigma)
            return tuple(o * float("nan") for o in output)
        return output * float("nan")

    getattr(model, net).register_forward_hook(hook)
