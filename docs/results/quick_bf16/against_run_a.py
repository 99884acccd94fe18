"""Run B (bf16-mixed) against run A (docs/results/quick) on the measures that do not go through
the classifier, whose feature spaces differ between the runs: reconstruction error in pixels
and the model's own pair discriminator. Welch's t over seeds per model and measure:

    cd docs/results/quick_bf16 && ../../../.venv/bin/python against_run_a.py > against_run_a.md
"""

import csv
import statistics
from pathlib import Path

from pagan_lightning.reporting.summary import stat, welch_p

HERE = Path(__file__).parent
MEASURES = ["rmse_pixel", "l2_image", "val/rec_mse", "val/pair_match"]


def seeds(table: Path) -> dict[str, list[dict[str, str]]]:
    """The rows of a table.csv by model folder."""
    models: dict[str, list[dict[str, str]]] = {}
    with open(table, newline="") as file:
        for row in csv.DictReader(file):
            models.setdefault(row["job"].split("/")[0], []).append(row)
    return models


def cell(values: list[float]) -> str:
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g} ({len(values)})"


run_a, run_b = seeds(HERE.parent / "quick" / "table.csv"), seeds(HERE / "table.csv")
lines = []
for measure in MEASURES:
    for model in run_b:
        a = [float(r[measure]) for r in run_a.get(model, []) if r.get(measure)]
        b = [float(r[measure]) for r in run_b[model] if r.get(measure)]
        if len(a) < 2 or len(b) < 2 or statistics.stdev(a) + statistics.stdev(b) == 0:
            continue
        p = welch_p(stat(a), stat(b))
        lines.append(f"| {measure} | {model} | {cell(a)} | {cell(b)} | {p:.2g} |")
print(f"{len(lines)} comparisons, Welch's t over seeds, two-sided; mean ± sample std (n).")
print()
print("| measure | model | run A (fp32, AVX2) | run B (bf16-mixed) | p |")
print("|---|---|---|---|---|")
print("\n".join(lines))
