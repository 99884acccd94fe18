"""Rebuild the records of the jobs whose run folders were lost with the machine that ran them.

The 3,000-step jobs of seeds 1-2 (and PAGAN (channel) seed 3) ran on a machine whose
``outputs/`` did not survive; what was committed of them is each job's ``metrics.json`` and
grids (full precision) and one row of ``table.csv`` (the overrides and the last logged values
at 4 significant digits). This script writes, for each such job, the record that
``pagan-collect --export`` writes for the jobs run since:

- ``.hydra/overrides.yaml``: the row's overrides;
- ``.hydra/config.yaml``, ``.hydra/hydra.yaml``: those overrides composed by Hydra with this
  commit's configs (what ``pagan-train`` would write);
- ``csv/metrics.csv``: one row, the last logged values as ``table.csv`` has them;
- ``eval/step_003000/``: the committed ``metrics.json`` and grids, moved there.

Run from the repository root: ``.venv/bin/python docs/results/quick/rebuild_lost_records.py``.
"""

import csv
import subprocess
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from pagan_lightning.runtime.configs import config_dir

HERE = Path(__file__).parent
GRIDS = {"_samples.png": "samples.png", "_reconstructions.png": "reconstructions.png"}


def rebuild(row: dict[str, str]) -> None:
    model, seed = row["job"].split("/")
    job = HERE / model / seed
    overrides = row["overrides"].split()
    cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    OmegaConf.set_struct(cfg, False)
    hydra = cfg.pop("hydra")
    (job / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": hydra}), job / ".hydra" / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    logged = {k: v for k, v in row.items() if k.startswith(("train/", "val/")) and v}
    (job / "csv").mkdir(exist_ok=True)
    with open(job / "csv" / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(logged))
        writer.writeheader()
        writer.writerow(logged)
    evaluation = job / "eval" / f"step_{int(row['steps']):06d}"
    evaluation.mkdir(parents=True, exist_ok=True)
    prefix = f"{model}_{seed}"
    moves = {f"{prefix}_metrics.json": "metrics.json"}
    moves |= {prefix + suffix: name for suffix, name in GRIDS.items()}
    for old, new in moves.items():
        if (HERE / old).exists():
            subprocess.run(["git", "mv", str(HERE / old), str(evaluation / new)], check=True)


def main() -> None:
    with open(HERE / "table.csv", newline="") as f:
        rows = [
            row
            for row in csv.DictReader(f)
            if (HERE / f"{row['job'].replace('/', '_')}_metrics.json").exists()
        ]
    with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
        for row in rows:
            rebuild(row)


if __name__ == "__main__":
    main()
