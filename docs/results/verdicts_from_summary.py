"""The Welch verdicts of the 1,000-step reproduction, recomputed from its committed
summary.csv (mean, sample std, n per group), as pagan-collect now judges them:

    .venv/bin/python docs/results/verdicts_from_summary.py > docs/results/verdicts.md
"""

import csv
from pathlib import Path

from pagan_lightning.reporting.summary import ALPHA, TABLE3, Stat, verdict, welch_p

with open(Path(__file__).with_name("summary.csv"), newline="") as file:
    rows = {r["group"]: r for r in csv.DictReader(file)}


def stat(group: str, metric: str) -> Stat:
    row = rows[group]
    return Stat(float(row[f"{metric}_mean"]), float(row[f"{metric}_std"]), int(row["n"]))


pairs = [
    (f"PAGAN ({mode})", rival)
    for mode in ("width", "channel")
    for rival in ("PAGAN-L1", f"PAGAN-NOAUG ({mode})")
]
checks = [(m, p, r) for p, r in pairs for m in TABLE3]
print(f"{len(checks)} comparisons, Welch's t-test, holds / reversed at p < {ALPHA} / {len(checks)}")
print()
for metric, pagan, rival in checks:
    p, r = stat(pagan, metric), stat(rival, metric)
    a, b = (p, r) if TABLE3[metric] else (r, p)
    sign = "<" if TABLE3[metric] else ">"
    print(
        f"- {metric.upper()}: {pagan} {sign} {rival}: {verdict(a, b, len(checks))} "
        f"(p = {welch_p(a, b):.2g}; {p.mean:.4g} ± {p.std:.2g} vs {r.mean:.4g} ± {r.std:.2g})"
    )
