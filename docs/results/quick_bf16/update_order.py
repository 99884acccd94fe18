"""PAGAN (channel) trained with Algorithm 1's simultaneous update order (the quickstart's) against
the alternating order (discriminators first, then G and E against the updated ones), run B's
settings otherwise: seeds 1-3 from run B's jobs here, seeds 4-5 from
``../update_order_seeds45/`` (the same settings, machine and classifier). Welch's t over seeds
per measure, Bonferroni over the measures:

    cd docs/results/quick_bf16 && ../../../.venv/bin/python update_order.py > update_order.md
"""

import csv
import statistics
from pathlib import Path

from pagan_lightning.reporting.summary import ALPHA, stat, verdict, welch_p

MEASURES = {  # column: what a better model has
    "fid": "lower",
    "is": "higher",
    "kid": "lower",
    "rid": "lower",
    "rmse_pixel": "lower",
    "val/pair_match": "higher",
}

HERE = Path(__file__).parent
rows = []
for table in (HERE / "table.csv", HERE.parent / "update_order_seeds45" / "table.csv"):
    with open(table, newline="") as file:
        rows += csv.DictReader(file)
jobs = {
    order: [r for r in rows if r["job"].split("/")[0] == folder]
    for order, folder in (
        ("simultaneous", "pagan_channel"),
        ("alternating", "pagan_channel_alternating"),
    )
}


def cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


print(
    f"{len(MEASURES)} comparisons, Welch's t over seeds, two-sided; a difference is decided when"
    f" p < {ALPHA} / {len(MEASURES)} = {ALPHA / len(MEASURES):.4f}. Mean ± sample std over seeds"
    f" {', '.join(r['job'].split('seed')[-1] for r in jobs['simultaneous'])} (simultaneous) and"
    f" {', '.join(r['job'].split('seed')[-1] for r in jobs['alternating'])} (alternating)."
)
print()
print("| measure | better | simultaneous | alternating | p | verdict |")
print("|---|---|---|---|---|---|")
for measure, better in MEASURES.items():
    a = [float(r[measure]) for r in jobs["simultaneous"]]
    b = [float(r[measure]) for r in jobs["alternating"]]
    sim, alt = stat(a), stat(b)
    p = welch_p(sim, alt)
    judged = verdict(*((sim, alt) if better == "lower" else (alt, sim)), len(MEASURES))
    said = {"holds": "simultaneous better", "reversed": "alternating better"}.get(judged, judged)
    print(f"| {measure} | {better} | {cell(a)} | {cell(b)} | {p:.2g} | {said} |")
