"""``pagan-collect <sweep dir>``: one table (Markdown + CSV) with a row per job of a sweep.

A job is any folder under the sweep dir with a ``.hydra/`` record (Hydra writes one per job).
Each row holds the job's variant (``vae`` for ``model=vae``) and overrides, its generator steps
(from ``last.ckpt``, else from its evaluation; 0 when it has neither), its training precision
(from ``config_resolved.yaml``), the numbers of its
newest ``pagan-evaluate`` output (``<job>/eval/*/metrics.json``: IS, FID, RID, RMSE and AUG, and
the feature space) and the last logged value of every metric in its ``csv/metrics.csv``.

Beside it, ``summary.md``, ``summary.csv`` and ``summary.png``: the jobs that differ only by
``seed`` in one group each, mean ± std of each metric over the seeds, and the verdicts on the
paper's Table 3 orderings (see :mod:`pagan_lightning.reporting.summary`).

With ``--export DIR``, each job's record (its ``.hydra/`` files, ``config_resolved.yaml``,
``csv/metrics.csv`` and newest evaluation folder, without checkpoints or TensorBoard events) is
copied to the same place under ``DIR``: a folder small enough to commit, from which
``pagan-collect DIR`` writes the same table and summary.
"""

import argparse
import csv
import json
import logging
import shutil
from pathlib import Path

from omegaconf import OmegaConf

from pagan_lightning.reporting import summary
from pagan_lightning.reporting.figures import summary_bars
from pagan_lightning.runtime.checkpoint import load_checkpoint
from pagan_lightning.runtime.errors import (
    CorruptDataError,
    RunNotFoundError,
    UserError,
    bugs_reported,
)
from pagan_lightning.runtime.rundir import check_writable, row_name

EVAL_KEYS = (  # from pagan-evaluate's metrics.json, in this order
    "is",
    "is_std",
    "fid",
    "kid",
    "rid",
    "rid_std",
    "l2_image",
    "rmse_pixel",
    "aug_rid",
    "aug_rid_std",
    "aug_l2_image",
)


def last_values(metrics_csv: Path) -> dict[str, str]:
    """The last non-empty value of every column of a Lightning CSVLogger file."""
    values: dict[str, str] = {}
    if metrics_csv.exists():
        with open(metrics_csv, newline="") as f:
            for row in csv.DictReader(f):
                values.update({k: v for k, v in row.items() if v not in ("", None)})
    return values


def newest_evaluation(job_dir: Path) -> dict:
    """The job's newest ``pagan-evaluate`` output (``eval/*/metrics.json``); ``{}`` if none."""
    found = sorted(job_dir.glob("eval/*/metrics.json"))
    if not found:
        return {}
    try:
        results = json.loads(found[-1].read_text())
    except (ValueError, UnicodeDecodeError) as err:
        results = err
    if not isinstance(results, dict):
        raise CorruptDataError(
            f"{found[-1]} is not a pagan-evaluate result ({' '.join(str(results).split())}). "
            f"Fix: delete it and "
            f"rerun pagan-evaluate for that job"
        )
    return results


def overrides_of(job_dir: Path) -> list[str]:
    """The Hydra overrides of a job (``.hydra/overrides.yaml``), a list of strings."""
    path = job_dir / ".hydra" / "overrides.yaml"
    try:
        overrides = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as err:  # yaml's and OmegaConf's errors alike
        overrides = err
    if not isinstance(overrides, list):
        raise CorruptDataError(
            f"{path} is not a list of Hydra overrides ({' '.join(str(overrides).split())}). "
            f"Fix: restore it, or "
            f"move that job out of the folder"
        )
    return [str(o) for o in overrides]


def evaluation(job_dir: Path) -> dict[str, str]:
    """The numbers of the job's newest ``pagan-evaluate`` output, formatted."""
    results = newest_evaluation(job_dir)
    if not results:
        return {}
    row = {"features": str(results["features"])}
    for key in EVAL_KEYS:
        if key in results:
            row[key] = f"{results[key]:.4g}"
    return row


def job_row(job_dir: Path, sweep_dir: Path) -> dict[str, str]:
    overrides = overrides_of(job_dir)
    metrics = last_values(job_dir / "csv" / "metrics.csv")
    checkpoint = job_dir / "checkpoints" / "last.ckpt"
    steps = newest_evaluation(job_dir).get("global_step", 0)
    if checkpoint.exists():  # generator steps (global_step), not batches
        steps = load_checkpoint(checkpoint)["global_step"]
    row = {
        "job": str(job_dir.relative_to(sweep_dir)),
        "variant": row_name(job_dir),
        "overrides": " ".join(str(o) for o in overrides),
        "steps": str(steps),
        "precision": precision_of(job_dir) or "",
    }
    metrics.pop("epoch", None)
    metrics.pop("step", None)
    row |= evaluation(job_dir)
    csv_file = job_dir / "csv" / "metrics.csv"
    return row | {k: f"{number(csv_file, k, v):.4g}" for k, v in sorted(metrics.items())}


def number(path: Path, key: str, value: object) -> float:
    """``value`` of ``key`` in ``path`` as a float, or a one-line error naming them."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CorruptDataError(f"{path}: {key}={value!r} is not a number") from None


def find_jobs(sweep_dir: Path) -> list[Path]:
    """Every job folder (with ``.hydra/overrides.yaml``) under ``sweep_dir``, numbers in order."""
    jobs = sorted(
        (p.parent for p in sweep_dir.rglob(".hydra") if (p / "overrides.yaml").exists()),
        key=lambda p: [
            (0, int(s), "") if s.isdigit() else (1, 0, s) for s in p.relative_to(sweep_dir).parts
        ],
    )
    if not jobs:
        raise RunNotFoundError(f"no Hydra job folders (with .hydra/) under {sweep_dir}")
    return jobs


def columns_of(rows: list[dict[str, str]]) -> list[str]:
    return list(dict.fromkeys(k for row in rows for k in row))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    columns = columns_of(rows)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def collect(sweep_dir: Path) -> list[dict[str, str]]:
    """Rows of every job under ``sweep_dir``, ordered by job folder; writes ``table.md`` and
    ``table.csv`` into ``sweep_dir``."""
    rows = [job_row(job, sweep_dir) for job in find_jobs(sweep_dir)]
    write_csv(sweep_dir / "table.csv", rows)
    columns = columns_of(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row.get(c, "") for c in columns) + " |" for row in rows]
    (sweep_dir / "table.md").write_text("\n".join(lines) + "\n")
    return rows


def precision_of(job_dir: Path) -> str | None:
    """The ``trainer.precision`` the job trained in (its ``config_resolved.yaml``), if known."""
    resolved = job_dir / "config_resolved.yaml"
    if not resolved.is_file():
        return None
    precision = OmegaConf.select(OmegaConf.load(resolved), "trainer.precision", default=None)
    return None if precision is None else str(precision)


def override_value(overrides: list[str], key: str) -> str | None:
    """The value that ``overrides`` give ``key``, if any."""
    found = [o.split("=", 1)[1] for o in overrides if summary.override_key(o) == key]
    return found[-1] if found else None


def feature_space(results: dict) -> str | None:
    """An evaluation's feature space: its extractor and the first 8 hex digits of its
    weights' sha256 (``classifier:68a56b92``); ``None`` without an evaluation."""
    if "features" not in results:
        return None
    digest = results.get("feature_weights_sha256")
    return str(results["features"]) + (f":{str(digest)[:8]}" if digest else "")


def read_job(job_dir: Path) -> summary.Job:
    """A job's variant, pair mode and seed (from its ``.hydra/``), raw evaluation numbers and
    the last logged value of :data:`summary.LOGGED` metrics."""
    overrides = overrides_of(job_dir)
    config_yaml = job_dir / ".hydra" / "config.yaml"
    config = OmegaConf.load(config_yaml) if config_yaml.exists() else OmegaConf.create()
    seed = override_value(overrides, "seed")
    if seed is None:  # the config's, when not overridden
        seed = OmegaConf.select(config, "seed", default=None)
    results = newest_evaluation(job_dir)
    metrics = {k: v for k, v in results.items() if k in summary.EVALUATED}
    logged = last_values(job_dir / "csv" / "metrics.csv")
    csv_file = job_dir / "csv" / "metrics.csv"
    metrics |= {k: number(csv_file, k, logged[k]) for k in summary.LOGGED if k in logged}
    return summary.Job(
        variant=row_name(job_dir),
        mode=OmegaConf.select(config, "model.disc_pair.mode", default=None),
        seed=None if seed is None else str(seed),
        precision=precision_of(job_dir) or override_value(overrides, "trainer.precision"),
        features=feature_space(results),
        overrides=summary.other_overrides(overrides),
        metrics={k: float(v) for k, v in metrics.items() if summary.finite(v)},
    )


def summarize(sweep_dir: Path) -> list[summary.Group]:
    """Groups of the jobs under ``sweep_dir`` that differ only by seed; writes ``summary.md``,
    ``summary.csv`` and (when any job has an evaluation) ``summary.png`` into ``sweep_dir``."""
    groups = summary.group_jobs([read_job(job) for job in find_jobs(sweep_dir)])
    write_csv(sweep_dir / "summary.csv", summary.summary_rows(groups))
    (sweep_dir / "summary.md").write_text(summary.summary_markdown(groups))
    if any(g.n for g in groups):
        panels = {  # panel title -> (mean, std) per group, None where the group has no value
            title: [(s.mean, s.std) if (s := g.stat(metric)) else None for g in groups]
            for metric, title in summary.FIGURE_PANELS.items()
        }
        aug = summary.aug_rid(groups)
        summary_bars(
            [f"{g.label}, n={g.n}" for g in groups],
            panels,
            sweep_dir / "summary.png",
            lines={} if aug is None else {summary.FIGURE_PANELS["rid"]: ("AUG", aug)},
        )
    return groups


def export(sweep_dir: Path, records: Path) -> None:
    """Copy each job's record under ``sweep_dir`` (``.hydra/*.yaml``, ``config_resolved.yaml``,
    ``csv/metrics.csv``, the newest ``eval/*/`` folder) to the same place under ``records``."""
    for job in find_jobs(sweep_dir):
        target = records / job.relative_to(sweep_dir)
        files = [*(job / ".hydra").glob("*.yaml"), job / "config_resolved.yaml"]
        files.append(job / "csv" / "metrics.csv")
        evaluations = sorted(job.glob("eval/*/metrics.json"))
        if evaluations:
            files += [p for p in evaluations[-1].parent.iterdir() if p.is_file()]
        for path in files:
            if path.is_file():
                (target / path.parent.relative_to(job)).mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.relative_to(job))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun folder")
    parser.add_argument(
        "--export", type=Path, metavar="DIR", help="copy each job's record (no checkpoints) here"
    )
    args = parser.parse_args(argv)
    try:
        with bugs_reported(logging.getLogger("pagan_lightning.collect")):
            if args.export:
                check_writable(args.export, "--export")
            collect(args.sweep_dir)
            summarize(args.sweep_dir)
            if args.export:
                export(args.sweep_dir, args.export)
    except UserError as err:
        parser.exit(2, f"error: {err}\n")
    print((args.sweep_dir / "table.md").read_text())
    print((args.sweep_dir / "summary.md").read_text(), end="")


if __name__ == "__main__":
    main()
