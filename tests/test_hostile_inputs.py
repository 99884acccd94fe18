"""Hostile inputs at every entry point, one row each: the command, its exit status, the
fragment its one-line error must hold, and the files it must leave as they were. A new case
is a new row."""

import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pagan_lightning.runtime.checkpoint import AtomicCheckpointIO
from pagan_lightning.runtime.configs import instantiate_model
from pagan_lightning.runtime.errors import BUG
from tests.helpers.configs import (
    TINY,
    cli,
    compose_train,
    console_script,
    quiet_trainer,
    synthetic_training,
)
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

FIXTURE = Path(__file__).parent / "fixtures" / "pagan-0.1.0-before-layout.ckpt"


@dataclass(frozen=True)
class World:
    """What the rows point at: synthetic data, checkpoints, files to keep, an output root."""

    data: Path
    pagan: Path
    truncated: Path
    vae: Path
    l1: Path
    file: Path
    corrupt_job: Path
    out: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("hostile")
    write_mnist_like(root / "data" / "FashionMNIST" / "raw")
    pagan = Path(shutil.copy(FIXTURE, root / "pagan.ckpt"))
    whole = FIXTURE.read_bytes()
    (root / "truncated.ckpt").write_bytes(whole[: len(whole) // 2])
    for name, overrides in {
        "vae": ["model=vae", "model.encoder.ch=16", "model.generator.ch=16"],
        "l1": [*TINY, "variant=l1"],
    }.items():
        trainer = quiet_trainer(root, max_steps=1, plugins=[AtomicCheckpointIO()])
        trainer.strategy.connect(instantiate_model(compose_train(overrides, root)))
        trainer.save_checkpoint(root / f"{name}.ckpt")
    (root / "a_file").write_text("not a folder\n")
    corrupt_job = root / "plan" / "a" / "seed1"
    (corrupt_job / "checkpoints").mkdir(parents=True)
    (corrupt_job / "checkpoints" / "last.ckpt").write_text("not a checkpoint\n")
    (root / "plan.yaml").write_text("steps: 2\nseeds: [1]\nmodels: {a: []}\n")
    (root / "plan0.yaml").write_text("steps: 0\nseeds: [1]\nmodels: {a: []}\n")
    return World(
        root / "data",
        pagan,
        root / "truncated.ckpt",
        root / "vae.ckpt",
        root / "l1.ckpt",
        root / "a_file",
        corrupt_job,
        root,
    )


def module(name: str) -> list[str]:
    return [sys.executable, "-m", f"pagan_lightning.cli.{name}"]


def evaluate(w: World, *extra: str) -> list[str]:
    """``pagan-evaluate`` of the tiny PAGAN on the synthetic data, into ``<out>/eval``."""
    data = f"data.data_dir={w.data}"
    return [
        console_script("pagan-evaluate"),
        f"ckpt_path={w.pagan}",
        "+data=fashion_mnist",
        data,
        "data.system_dir=null",
        "data.download=false",
        "data.val_size=56",
        f"hydra.run.dir={w.out / 'eval'}",
        *extra,
    ]


def reproduce(w: World, root: Path) -> list[str]:
    """``pagan-reproduce`` of the one-job plan into ``root``."""
    return [console_script("pagan-reproduce"), str(w.out / "plan.yaml"), "--root", str(root)]


@dataclass(frozen=True)
class Row:
    command: Callable[[World], list[str]]
    status: int
    message: str
    kept: Callable[[World], list[Path]] = lambda w: []  # files that must not change
    absent: Callable[[World], list[Path]] = lambda w: []  # files that must not appear


ROWS = {
    "train: hydra.run.dir below a file": Row(
        lambda w: [
            console_script("pagan-train"),
            *synthetic_training(w.data),
            f"hydra.run.dir={w.file / 'run'}",
        ],
        1,
        "is a file, not a folder",
        kept=lambda w: [w.file],
    ),
    "train -m: hydra.sweep.dir below a file": Row(
        lambda w: [
            console_script("pagan-train"),
            "-m",
            *synthetic_training(w.data),
            f"hydra.sweep.dir={w.file / 'sweep'}",
        ],
        1,
        "is a file, not a folder; give a hydra.sweep.dir",
        kept=lambda w: [w.file],
    ),
    "train: 4 image channels": Row(
        lambda w: [
            console_script("pagan-train"),
            *TINY,
            "data.channels=4",
            f"hydra.run.dir={w.out / 'run4'}",
        ],
        1,
        "data.channels=4: images are read as grayscale (1) or RGB (3)",
        absent=lambda w: [w.out / "run4" / "config_resolved.yaml"],
    ),
    "evaluate: more interpolations than test images": Row(
        lambda w: evaluate(w, "figures.n_interpolations=1000"),
        1,
        "the figures need 2000 test images (two per interpolation), the test set has 64",
        kept=lambda w: [w.pagan],
        absent=lambda w: [w.out / "eval" / "metrics.json"],
    ),
    "evaluate: a text file as the checkpoint": Row(
        lambda w: [console_script("pagan-evaluate"), f"ckpt_path={w.file}"],
        1,
        "is not a torch.save file",
        kept=lambda w: [w.file],
    ),
    "evaluate: hydra.run.dir below a file": Row(
        lambda w: [
            console_script("pagan-evaluate"),
            f"ckpt_path={w.pagan}",
            f"hydra.run.dir={w.file / 'eval'}",
        ],
        1,
        "is a file, not a folder",
        kept=lambda w: [w.file],
    ),
    "evaluate: no real images": Row(
        lambda w: evaluate(w, "metrics.num_real=0"),
        1,
        "metrics.num_real=0 must be positive",
        absent=lambda w: [w.out / "eval" / "metrics.json"],
    ),
    "evaluate: KID subsets of no images": Row(
        lambda w: evaluate(w, "metrics.kid_subset_size=0"),
        1,
        "metrics.kid_subset_size >= 2",
        absent=lambda w: [w.out / "eval" / "metrics.json"],
    ),
    "train-classifier: hydra.run.dir below a file": Row(
        lambda w: [
            console_script("pagan-train-classifier"),
            f"weights={w.out / 'clf.pt'}",
            f"hydra.run.dir={w.file / 'classifier'}",
        ],
        1,
        "is a file, not a folder",
        kept=lambda w: [w.file],
        absent=lambda w: [w.out / "clf.pt"],
    ),
    "probe: a text file as the checkpoint": Row(
        lambda w: [*module("probe"), "--ckpt", str(w.file), "--system-dir", str(w.data)],
        1,
        "is not a torch.save file",
    ),
    "probe: a truncated checkpoint": Row(
        lambda w: [*module("probe"), "--ckpt", str(w.truncated), "--system-dir", str(w.data)],
        1,
        "or a corrupt or truncated one",
        kept=lambda w: [w.truncated],
    ),
    "probe: a PAGAN-L1 checkpoint": Row(
        lambda w: [*module("probe"), "--ckpt", str(w.l1), "--system-dir", str(w.data)],
        1,
        "a PAGAN without a pair discriminator D_xx",
        kept=lambda w: [w.l1],
    ),
    "probe: a VAE checkpoint": Row(
        lambda w: [*module("probe"), "--ckpt", str(w.vae), "--system-dir", str(w.data)],
        1,
        "a VAE without a pair discriminator D_xx",
        kept=lambda w: [w.vae],
    ),
    "probe: no steps": Row(lambda w: [*module("probe"), "--steps", "0"], 1, "--steps=0 must be"),
    "bench: an unknown variant": Row(
        lambda w: [*module("bench"), "experiment=quickstart", "variant=nope"],
        1,
        "Could not find 'variant/nope' Available options in 'variant':",
    ),
    "bench: an unknown variant to compare against": Row(
        lambda w: [*module("bench"), "--against", "variant=nope"],
        1,
        "Could not find 'variant/nope'",
    ),
    "bench: no timed steps": Row(
        lambda w: [*module("bench"), "--steps", "0"], 2, "--steps=0 must be positive"
    ),
    "collect: a folder without runs": Row(
        lambda w: [console_script("pagan-collect"), str(w.out / "data")],
        2,
        "no Hydra job folders (with .hydra/) under",
    ),
    "collect: a folder that does not exist": Row(
        lambda w: [console_script("pagan-collect"), str(w.out / "nowhere")],
        2,
        "no Hydra job folders (with .hydra/) under",
    ),
    "reproduce: a plan of 0 steps": Row(
        lambda w: [console_script("pagan-reproduce"), str(w.out / "plan0.yaml")],
        1,
        "steps=0 must be a positive integer",
    ),
    "reproduce: --root below a file": Row(
        lambda w: reproduce(w, w.file / "plan"),
        1,
        "is a file, not a folder; give a --root",
        kept=lambda w: [w.file],
    ),
    "reproduce: a job's last.ckpt is not a checkpoint": Row(
        lambda w: reproduce(w, w.out / "plan"),
        1,
        "refused to load checkpoint",
        kept=lambda w: [w.corrupt_job / "checkpoints" / "last.ckpt"],
    ),
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", list(ROWS))
def test_hostile_input(case: str, world: World) -> None:
    row = ROWS[case]
    kept = {path: digest(path) for path in row.kept(world)}
    done = cli(row.command(world), timeout=300)
    assert done.returncode == row.status, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and BUG not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "error: " in last and row.message in last, last
    assert {path: digest(path) for path in kept} == kept
    assert [path for path in row.absent(world) if path.exists()] == []


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder in which this process cannot create one: mode 555, or for root, who writes
    through mode bits, a read-only mount (``/sys`` first: ``os.access`` calls it writable)."""
    if os.geteuid() != 0:
        (tmp_path / "locked").mkdir(mode=0o555)
        return tmp_path / "locked"
    for mount in (Path("/sys"), Path("/proc/sys")):
        try:
            (mount / "pagan_probe").mkdir()
        except OSError:
            return mount
        (mount / "pagan_probe").rmdir()
    pytest.skip("running as root without a read-only mount to write into")


@pytest.mark.parametrize(
    ("tool", "new"),
    [
        ("pagan-train", True),
        ("pagan-evaluate", True),
        ("pagan-train-classifier", True),
        ("pagan-train", False),  # the folder itself (for root on /sys, os.access says yes)
    ],
)
def test_an_output_folder_this_user_cannot_write_is_refused_before_any_work(
    tool: str, new: bool, tmp_path: Path
) -> None:
    locked = unwritable_folder(tmp_path)
    args = {"pagan-train": TINY, "pagan-evaluate": [f"ckpt_path={FIXTURE}"]}.get(tool, [])
    run_dir = locked / "pagan_run" if new else locked
    done = cli(
        [console_script(tool), *args, f"hydra.run.dir={run_dir}"],
        timeout=300,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert f"{locked} is not writable by this user" in last, last
    assert not (locked / "pagan_run").exists()
