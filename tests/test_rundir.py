"""A run folder belongs to one run (issue #12): a second writer is refused, a used folder is
only resumed, and nothing of the first run is lost or mixed."""

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from pagan_lightning.runtime import rundir
from pagan_lightning.runtime.errors import ConfigError
from tests.helpers.configs import cli, console_script, synthetic_training

HOLD = """
import sys, time
from pathlib import Path
from pagan_lightning.runtime import rundir
rundir.claim(Path(sys.argv[1]), None)
print("held", flush=True)
time.sleep(60)
"""


def holder(folder: Path) -> subprocess.Popen:
    """Another process that claims ``folder`` and keeps it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"held"
    return proc


def test_a_second_writer_is_refused_until_the_first_ends_even_by_sigkill(tmp_path: Path) -> None:
    proc = holder(tmp_path)
    with pytest.raises(ConfigError, match=rf"in use by another process \(pid {proc.pid}\)"):
        rundir.claim(tmp_path, "last")  # not even a resume may write beside it
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rundir.claim(tmp_path, None)  # the kernel released the lock with the process
    rundir.release(tmp_path)


def train(
    run: Path, data: Path, *overrides: str, multirun: bool = False
) -> subprocess.CompletedProcess:
    args = [
        console_script("pagan-train"),
        *(["-m"] if multirun else []),
        *synthetic_training(data),
        "trainer.limit_val_batches=0",
        "trainer.log_every_n_steps=1",
        f"hydra.sweep.dir={run}" if multirun else f"hydra.run.dir={run}",
        *overrides,
    ]
    return cli(args, timeout=600)


def snapshot(run: Path) -> dict[str, bytes]:
    files = ["config_resolved.yaml", "csv/metrics.csv", "checkpoints/last.ckpt", "train.log"]
    files += [f".hydra/{name}.yaml" for name in ("config", "hydra", "overrides")]
    return {name: (run / name).read_bytes() for name in files}


def test_a_used_folder_is_resumed_or_refused_never_mixed(fashion_dir: Path, tmp_path: Path):
    run = tmp_path / "run"
    first = train(run, fashion_dir, "trainer.max_steps=2")
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(run)

    again = train(run, fashion_dir, "trainer.max_steps=2")
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1] == (
        f"error: {run} already holds a run (checkpoints, csv/metrics.csv)."
        f" Resume it with ckpt_path=last, or start the new run in another folder (leave "
        f"hydra.run.dir out for a fresh dated one)"
    )
    assert snapshot(run) == before  # nothing written, Hydra's files and log included

    resumed = train(run, fashion_dir, "trainer.max_steps=3", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run / "csv/metrics.csv").read_bytes().startswith(before["csv/metrics.csv"][:50])
    # the first attempt's .hydra/ stays (pagan-collect reads its overrides); the resume's
    # files are beside it
    after = snapshot(run)
    assert all(
        after[f".hydra/{n}.yaml"] == before[f".hydra/{n}.yaml"] for n in ("config", "overrides")
    )
    assert "ckpt_path=last" in (run / ".hydra" / "resume1" / "overrides.yaml").read_text()


def test_a_second_pagan_train_into_a_running_folder_is_refused(fashion_dir: Path, tmp_path):
    run = tmp_path / "run"
    proc = holder(run)  # stands for a pagan-train that is still running there
    try:
        out = train(run, fashion_dir, "trainer.max_steps=2", "ckpt_path=last")
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert f"in use by another process (pid {proc.pid})" in out.stderr
        assert sorted(p.name for p in run.iterdir()) == [".lock"]  # no .hydra/, no log
    finally:
        proc.kill()
        proc.wait()


def test_attempts_that_saved_no_checkpoint_leave_the_folder_usable(
    fashion_dir: Path, tmp_path: Path
) -> None:
    """A bad ``ckpt_path`` fails after Hydra and the loggers set the folder up, before any
    step: the folder holds no run, and the corrected command trains there. A run that took
    steps but saved no checkpoint is resumed from step 0."""
    run, empty = tmp_path / "run", tmp_path / "empty.ckpt"
    empty.touch()
    failed = train(run, fashion_dir, "trainer.max_steps=2", f"ckpt_path={empty}")
    assert failed.returncode == 1 and "is not a torch.save file" in failed.stderr
    assert not rundir.holds_run(run) and (run / "config_resolved.yaml").is_file()

    fixed = train(run, fashion_dir, "trainer.max_steps=2")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert OmegaConf.load(run / "config_resolved.yaml").ckpt_path is None  # the new run's
    # and so are Hydra's files, which pagan-collect reads the run's variant and seed from
    assert "ckpt_path" not in (run / ".hydra" / "overrides.yaml").read_text()
    assert not (run / ".hydra" / "resume1").exists()
    assert (run / "checkpoints" / "last.ckpt").is_file()

    # a run that logged steps but saved no checkpoint (killed before its first save): the
    # resume starts it again from step 0, and its log is kept beside the new one
    shutil.rmtree(run / "checkpoints")
    log = (run / "csv" / "metrics.csv").read_bytes()
    again = train(run, fashion_dir, "trainer.max_steps=2", "ckpt_path=last")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "saved no checkpoint; training starts again from step 0" in again.stdout
    assert (run / "csv" / "metrics.attempt1.csv").read_bytes() == log
    steps = [row["step"] for row in csv.DictReader((run / "csv" / "metrics.csv").open())]
    assert sorted(set(steps)) == ["0", "1"] and len(steps) == len(set(steps))
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_a_multirun_into_used_job_folders_is_refused_or_resumed(fashion_dir: Path, tmp_path):
    """A sweep folder's job folders are checked before the first job, not after Hydra has
    written its files there; a resumed sweep keeps each job's first ``.hydra/``."""
    sweep = tmp_path / "sweep"

    def multirun(*overrides: str) -> subprocess.CompletedProcess:
        return train(sweep, fashion_dir, *overrides, multirun=True)

    first = multirun("trainer.max_steps=2")
    assert first.returncode == 0, first.stderr[-2000:]
    job = sweep / "0"
    before = snapshot(job)

    again = multirun("trainer.max_steps=2")
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1] == (
        f"error: {job} already holds a run (checkpoints, csv/metrics.csv)."
        f" Resume it with ckpt_path=last, or start the new run in another folder (leave "
        f"hydra.sweep.dir out for a fresh dated one)"
    )
    assert snapshot(job) == before  # nothing written, Hydra's files and log included

    resumed = multirun("trainer.max_steps=3", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = snapshot(job)
    assert all(
        after[f".hydra/{n}.yaml"] == before[f".hydra/{n}.yaml"] for n in ("config", "overrides")
    )
    assert "ckpt_path=last" in (job / ".hydra" / "resume1" / "overrides.yaml").read_text()
    assert OmegaConf.load(job / "config_resolved.yaml").trainer.max_steps == 2  # the first's
