"""``pagan-reproduce <plan> [--root DIR]``: train, evaluate and collect a reproduction that
survives interruptions.

A plan (``conf/reproduce/<plan>.yaml``, or a path) names models (each a list of overrides),
seeds, the generator steps of every job, the overrides of every job (``common``) and the
evaluation's ``metrics`` config (and more ``evaluate`` overrides). Job
``<root>/<model>/seed<seed>`` is

- skipped when its ``checkpoints/last.ckpt`` holds the plan's step count,
- resumed from that ``last.ckpt`` (``ckpt_path=last``) when it holds fewer,
- started afresh otherwise (a folder without a checkpoint holds nothing to keep);

then evaluated into ``eval/step_<N>/`` unless that evaluation is complete, and the root is
collected (``pagan-collect``: ``table.md``, ``summary.md`` with the verdicts). Rerun the same
command after an interruption: finished work is not redone.
"""

import argparse
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from pagan_lightning.runtime.checkpoint import load_checkpoint
from pagan_lightning.runtime.configs import config_dir
from pagan_lightning.runtime.errors import UserError, bugs_reported, message
from pagan_lightning.runtime.rundir import check_writable

log = logging.getLogger("pagan_lightning.reproduce")


def load_plan(name: str) -> DictConfig:
    """``conf/reproduce/<name>.yaml``, or the YAML file ``name``."""
    path = Path(name)
    if not path.suffix:
        path = Path(config_dir()) / "reproduce" / f"{name}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in (Path(config_dir()) / "reproduce").glob("*.yaml"))
        raise SystemExit(f"error: no plan {name!r} ({path}); shipped plans: {', '.join(shipped)}")
    plan = OmegaConf.load(path)
    missing = [k for k in ("steps", "seeds", "models") if k not in plan]
    if missing:
        raise SystemExit(f"error: plan {path} lacks {', '.join(missing)}")
    seeds, models = plan.seeds, plan.models
    if not isinstance(plan.steps, int) or isinstance(plan.steps, bool) or plan.steps < 1:
        raise SystemExit(f"error: plan {path}: steps={plan.steps!r} must be a positive integer")
    if not OmegaConf.is_list(seeds) or not all(type(seed) is int for seed in seeds):
        raise SystemExit(f"error: plan {path}: seeds={seeds!r} must be a list of integers")
    if not OmegaConf.is_dict(models) or not all(OmegaConf.is_list(o) for o in models.values()):
        raise SystemExit(f"error: plan {path}: models must map each name to a list of overrides")
    return plan


def steps_done(job: Path) -> int | None:
    """The generator steps of ``job``'s ``last.ckpt``; None without one."""
    last = job / "checkpoints" / "last.ckpt"
    return int(load_checkpoint(last)["global_step"]) if last.is_file() else None


def run(module: str, args: list[str]) -> None:
    """``python -m pagan_lightning.cli.<module> <args>``; stops the reproduction on failure."""
    command = [sys.executable, "-m", f"pagan_lightning.cli.{module}", *args]
    log.info("%s", " ".join(command[1:]))
    if subprocess.run(command).returncode != 0:
        raise SystemExit(f"error: {' '.join(command[2:])} failed; rerun to continue from here")


def train(plan: DictConfig, overrides: list[str], seed: int, job: Path) -> None:
    """Train ``job`` to the plan's steps, resuming it or starting it as its folder says."""
    done = steps_done(job)
    if done is not None and done >= plan.steps:
        log.info("%s: done (%d steps)", job, done)
        return
    args = [*plan.get("common", []), *overrides, f"seed={seed}"]
    args += [f"trainer.max_steps={plan.steps}", f"hydra.run.dir={job}"]
    if done is None:
        if job.exists():  # interrupted before its first checkpoint: nothing to resume
            shutil.rmtree(job)
    else:
        log.info("%s: resuming at step %d", job, done)
        args.append("ckpt_path=last")
    run("train", args)


def evaluate(plan: DictConfig, job: Path) -> None:
    """Evaluate ``job``'s ``last.ckpt`` into ``eval/step_<N>`` unless already done."""
    out = job / "eval" / f"step_{steps_done(job):06d}"
    if (out / "metrics.json").is_file():
        log.info("%s: evaluated", out)
        return
    if out.exists():  # an interrupted evaluation
        shutil.rmtree(out)
    checkpoint = job / "checkpoints" / "last.ckpt"
    metrics = [f"metrics={plan.metrics}"] if plan.get("metrics") else []
    extra = list(plan.get("evaluate", []))
    run("evaluate", [f"ckpt_path={checkpoint}", *metrics, *extra, f"hydra.run.dir={out}"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pagan-reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("plan", help="a plan of conf/reproduce/ (e.g. quick) or a YAML file")
    parser.add_argument(
        "--root", type=Path, default=None, help="its folder (default outputs/reproduce/<plan>)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    plan = load_plan(args.plan)
    root = args.root or Path("outputs") / "reproduce" / Path(args.plan).stem
    try:
        with bugs_reported(log):
            check_writable(root, "--root")
            reproduce(plan, root)
    except UserError as err:
        sys.exit(f"error: {message(err)}")


def reproduce(plan: DictConfig, root: Path) -> None:
    """Every job of ``plan`` under ``root``, trained and evaluated, then one table."""
    for seed in plan.seeds:  # a seed of every model first: each model evaluated early on
        for model, overrides in plan.models.items():
            job = root / str(model) / f"seed{seed}"
            train(plan, list(overrides), seed, job)
            evaluate(plan, job)
    run("collect", [str(root)])


if __name__ == "__main__":
    main()
