"""Exact resume after SIGKILL: the resumed run logs the uninterrupted run's losses bit for bit.

Each run is the real ``pagan-train`` in a subprocess on synthetic Fashion-MNIST IDX files
(200 training images, batch 16: 12 batches an epoch, so 20 steps cross an epoch boundary), with
``trainer.deterministic=true``, a checkpoint every 3 generator steps and every loss logged at
every step. A run is killed with SIGKILL (mid-run, or half-way through writing ``last.ckpt``),
resumed with ``ckpt_path=last`` into its own folder, and compared with a run never killed:
every logged loss of every step, and the final weights, must be equal - not close.
"""

import csv
from pathlib import Path
from signal import SIGTERM

import pytest
import torch

from pagan_lightning.runtime.checkpoint import load_checkpoint
from tests.helpers.configs import cli, console_script, importing_tests, run_cli, synthetic_training
from tests.helpers.faults import kill_when, last_step, logged_losses, tensorboard_scalars
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

STEPS = 20
LOSSES = ["train/d_x", "train/d_z", "train/d_pair", "train/g", "train/e"]


def command(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        console_script("pagan-train"),
        *synthetic_training(data),
        "trainer.deterministic=true",
        "trainer.val_check_interval=5",
        "trainer.limit_val_batches=2",
        "trainer.log_every_n_steps=1",
        "callbacks.model_checkpoint.every_n_train_steps=3",
        "callbacks.image_grids.every_n_steps=100",
        f"trainer.max_steps={STEPS}",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def finish(cmd: list[str]) -> None:
    run_cli(cmd, env=importing_tests())


def logged(run_dir: Path) -> dict[int, dict[str, str]]:
    return logged_losses(run_dir, LOSSES)


def logged_steps(run_dir: Path) -> list[int]:
    """The step of every training row of ``csv/metrics.csv``, repeats included."""
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("train/g")]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist_like(root / "FashionMNIST" / "raw", n_train=256, n_test=64)
    return root


@pytest.fixture(scope="module")
def reference(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    finish(command(data, run_dir))
    return run_dir


def assert_same_run(resumed: Path, reference: Path) -> None:
    expected, got = logged(reference), logged(resumed)
    assert sorted(expected) == list(range(STEPS))
    assert got == expected  # exact string equality of the logged floats, every step
    # TensorBoard shows each step once too, with the values of the run never stopped
    shown = tensorboard_scalars(resumed / "tensorboard", "train/g")
    assert sorted(shown) == list(range(STEPS))
    for step, values in shown.items():
        assert values == pytest.approx([float(expected[step]["train/g"])], rel=1e-6), step
    weights = [
        load_checkpoint(r / "checkpoints" / "last.ckpt")["state_dict"] for r in (resumed, reference)
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[1])


def test_sigkill_mid_run_then_resume_equals_uninterrupted(
    data: Path, reference: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    kill_when(command(data, run_dir), lambda: last_step(run_dir) >= 7)
    resumed_from = last_step(run_dir)
    assert 0 < resumed_from < STEPS
    finish(command(data, run_dir, "ckpt_path=last"))
    assert sorted(logged_steps(run_dir)) == list(range(STEPS))  # each step once
    assert_same_run(run_dir, reference)


def test_sigterm_saves_the_step_exits_non_zero_and_resumes_exactly(
    data: Path, reference: Path, tmp_path: Path
) -> None:
    """SIGTERM (a scheduler's pre-emption) stops after the current batch, writes last.ckpt at
    that step and exits with 143; the resume logs every step once and equals the run never
    stopped."""
    run_dir = tmp_path / "run"
    status = kill_when(command(data, run_dir), lambda: last_step(run_dir) >= 3, sig=SIGTERM)
    assert status == 128 + SIGTERM
    stopped = last_step(run_dir)
    assert 3 <= stopped < STEPS
    assert sorted(logged_steps(run_dir)) == list(range(stopped))  # each step before the stop
    finish(command(data, run_dir, "ckpt_path=last"))
    assert sorted(logged_steps(run_dir)) == list(range(STEPS))
    assert_same_run(run_dir, reference)


def test_sigkill_while_writing_last_ckpt_keeps_the_previous_one_and_cleans_up(
    data: Path, reference: Path, tmp_path: Path
) -> None:
    run_dir, marker = tmp_path / "run", tmp_path / "stalled"
    stalling = (
        "trainer.plugins=[{_target_:tests.helpers.faults.StallingCheckpointIO,"
        f"stall_step:9,stall_name:last.ckpt,marker:'{marker}'}}]"
    )
    kill_when(command(data, run_dir, stalling), marker.exists)
    checkpoints = run_dir / "checkpoints"
    assert [p.name for p in checkpoints.glob(".last.ckpt.tmp-*")]  # the half-written file
    assert last_step(run_dir) == 6  # last.ckpt is still the complete previous checkpoint
    assert load_checkpoint(checkpoints / "step_000009.ckpt")["global_step"] == 9
    finish(command(data, run_dir, "ckpt_path=last"))  # from last.ckpt: step 8's row comes
    assert not list(checkpoints.glob(".last.ckpt.tmp-*"))  # the half-written file, removed
    assert sorted(logged_steps(run_dir)) == list(range(STEPS))  # each step once
    assert_same_run(run_dir, reference)


DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]


@pytest.fixture(scope="module")
def ddp_reference(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("ddp_reference") / "run"
    finish(command(data, run_dir, *DDP))
    return run_dir


def test_sigkill_under_ddp_then_resume_equals_uninterrupted(
    data: Path, ddp_reference: Path, tmp_path: Path
) -> None:
    """Two gloo processes (each its shard of the data order and its own random stream, both
    in the checkpoint): killed together mid-run, resumed, the same losses and weights."""
    run_dir = tmp_path / "run"
    kill_when(command(data, run_dir, *DDP), lambda: last_step(run_dir) >= 7)
    assert 0 < last_step(run_dir) < STEPS
    finish(command(data, run_dir, *DDP, "ckpt_path=last"))
    assert_same_run(run_dir, ddp_reference)


def test_a_learning_rate_schedule_decays_to_zero_and_resumes_exactly(
    data: Path, tmp_path: Path
) -> None:
    """``model/lr_schedule=linear``: both learning rates fall linearly to 0 at max_steps, one
    step per generator update, and the schedulers' state is in the checkpoints, so a killed
    run resumes exactly."""
    schedule = "model/lr_schedule=linear"
    reference_dir = tmp_path / "reference"
    finish(command(data, reference_dir, schedule))
    for step, factor in ((9, 1 - 9 / STEPS), (STEPS, 0.0)):
        name = "last.ckpt" if step == STEPS else f"step_{step:06d}.ckpt"
        saved = load_checkpoint(reference_dir / "checkpoints" / name)
        assert saved["global_step"] == step
        for state in saved["optimizer_states"]:  # G/E and D, from lr 2e-4
            assert state["param_groups"][0]["lr"] == pytest.approx(2e-4 * factor, abs=1e-12)
    run_dir = tmp_path / "run"
    kill_when(command(data, run_dir, schedule), lambda: last_step(run_dir) >= 7)
    assert 0 < last_step(run_dir) < STEPS
    for other, message in (  # resumes whose rates would silently differ are refused
        ([], "this resume changes model.lr_schedule._partial_, model.lr_schedule._target_"),
        ([schedule, "trainer.max_steps=30"], "this resume changes model.lr_schedule.total_iters"),
    ):
        out = cli(
            [*command(data, run_dir, "ckpt_path=last"), *other],
            env=importing_tests(),
        )
        assert out.returncode == 1 and message in out.stderr.strip().splitlines()[-1]
    finish(command(data, run_dir, schedule, "ckpt_path=last"))
    assert_same_run(run_dir, reference_dir)
