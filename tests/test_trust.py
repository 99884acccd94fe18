"""A checkpoint may name only classes defined in trusted packages, resolved as objects."""

from pathlib import Path

import pytest
import torch

from pagan_lightning.runtime.checkpoint import (
    AtomicCheckpointIO,
    CheckpointError,
    load_checkpoint,
    load_module,
)
from pagan_lightning.runtime.trust import UntrustedError, packages, recorded, resolve
from tests.helpers.configs import quiet_trainer


@pytest.fixture
def good_checkpoint(tiny_model, tmp_path: Path) -> Path:
    trainer = quiet_trainer(tmp_path, max_steps=1, plugins=[AtomicCheckpointIO()])
    trainer.strategy.connect(tiny_model)
    trainer.save_checkpoint(tmp_path / "good.ckpt")
    return tmp_path / "good.ckpt"


def edited(good: Path, tmp_path: Path, module: str | None = None, **hparams) -> Path:
    checkpoint = load_checkpoint(good)
    if module is not None:
        checkpoint["pagan_lightning"]["module"] = module
    checkpoint["hyper_parameters"] |= hparams
    torch.save(checkpoint, tmp_path / "edited.ckpt")
    return tmp_path / "edited.ckpt"


MODULE_ATTACKS = [  # (the module entry, what the error names)
    (
        "pagan_lightning.runtime.checkpoint.os.system",
        "builtin_function_or_method 'system', not a class",
    ),
    ("pagan_lightning.module.torch.load", "function 'load', not a class"),
    ("pagan_lightning.runtime.rundir.Path", "the class pathlib.Path"),
    ("pagan_lightning.runtime.checkpoint.os", "module 'os'"),
    ("builtins.eval", "outside the trusted packages"),
    ("operator.attrgetter", "outside the trusted packages"),
    ("pagan_lightning.module.PAGAN.__init__.__globals__", "special attribute '__init__'"),
    ("pagan_lightning.nets.Generator", "not a ExactResume"),  # a class, not a LightningModule
    ("pagan_lightning_evil.PAGAN", "outside the trusted packages"),  # a prefix, not a package
    ("pagan_lightning.no_such_module.PAGAN", "no attribute 'no_such_module'"),
    ("pagan_lightning.runtime.checkpoint..os", "not a dotted class name"),
]


@pytest.mark.parametrize(("module", "named"), MODULE_ATTACKS)
def test_module_entry_that_is_not_a_trusted_lightning_module_runs_nothing(
    good_checkpoint: Path, tmp_path: Path, module: str, named: str
) -> None:
    marker = tmp_path / "pwned"
    path = edited(good_checkpoint, tmp_path, module=module, command=f"touch {marker}")
    with pytest.raises(CheckpointError, match="untrusted") as err:
        load_module(path)
    assert named in str(err.value) and f"trusted=[{module.split('.')[0]}]" in str(err.value)
    assert "\n" not in str(err.value)
    assert not marker.exists()


TARGET_ATTACKS = [
    ("pagan_lightning.runtime.checkpoint.os.system", "not a class"),
    ("pagan_lightning.runtime.specs.instantiate", "not a class"),
    ("pagan_lightning.module.functools.partial", "the class functools.partial"),
    ("subprocess.Popen", "outside the trusted packages"),
    ("torch.nn.modules.module.torch.load", "not a class"),
]


@pytest.mark.parametrize(("target", "named"), TARGET_ATTACKS)
@pytest.mark.parametrize("where", ["top", "nested", "list"])
def test_every_target_of_the_hyper_parameters_is_resolved_before_anything_is_built(
    good_checkpoint: Path, tmp_path: Path, target: str, named: str, where: str
) -> None:
    marker = tmp_path / "pwned"
    evil = {"_target_": target, "_args_": [f"touch {marker}"]}
    spec = {
        "top": evil,
        "nested": {"_target_": "pagan_lightning.augment.Identity", "inner": evil},
        "list": {"_target_": "pagan_lightning.augment.Identity", "inner": [1, evil]},
    }[where]
    path = edited(good_checkpoint, tmp_path, augmenter=spec)
    with pytest.raises(
        CheckpointError, match=r"untrusted object: augmenter[.\w\[\]]*_target_"
    ) as err:
        load_module(path)
    assert named in str(err.value)
    assert not marker.exists()


def test_interpolations_in_hyper_parameters_are_refused(
    good_checkpoint: Path, tmp_path: Path
) -> None:
    spec = {"_target_": "pagan_lightning.objectives.FGAN", "divergence": "${oc.env:HOME}"}
    with pytest.raises(CheckpointError, match=r"objective\.divergence: an interpolation"):
        load_module(edited(good_checkpoint, tmp_path, objective=spec))


def test_trusted_packages_admit_their_classes_only(good_checkpoint: Path, tmp_path: Path) -> None:
    spec = {"_target_": "tests.helpers.trusted_parts.Halves"}
    path = edited(good_checkpoint, tmp_path, augmenter=spec)
    with pytest.raises(CheckpointError, match=r"Halves.*outside the trusted packages"):
        load_module(path)
    model = load_module(path, trusted=["tests.helpers"])
    assert type(model.augmenter).__qualname__ == "Halves"
    # trusting a package admits classes defined there, not what it imports
    path = edited(
        good_checkpoint, tmp_path, augmenter={"_target_": "tests.helpers.trusted_parts.os.system"}
    )
    with pytest.raises(CheckpointError, match="not a class"):
        load_module(path, trusted=["tests.helpers"])


def test_trust_is_by_package_component() -> None:
    assert packages(["my_pagan.", "my_pagan"]) == (*packages(), "my_pagan")
    with pytest.raises(UntrustedError, match="outside the trusted packages"):
        resolve("pagan_lightning_extra.X", packages())
    assert resolve("torch.optim.Adam", packages()) is torch.optim.Adam


def test_recorded_trust_comes_from_the_run_config(tmp_path: Path) -> None:
    assert recorded(tmp_path) == ()
    (tmp_path / "config_resolved.yaml").write_text("trusted: [my_pagan]\nseed: 1\n")
    assert recorded(tmp_path) == ("my_pagan",)
    (tmp_path / "config_resolved.yaml").write_text("trusted: [unclosed\n")
    with pytest.raises(UntrustedError, match=r"cannot read .*config_resolved\.yaml"):
        recorded(tmp_path)
