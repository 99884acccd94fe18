"""Geometric mean and one-sided Wilcoxon signed-rank test (H1: faster) of the paired speed
ratios in heap_retention.txt and critic_passes.txt.

    .venv/bin/python docs/results/speed/paired_tests.py > docs/results/speed/paired_tests.txt
"""

import math
import re
from pathlib import Path

from scipy.stats import wilcoxon

HERE = Path(__file__).parent


def heap_ratios() -> list[float]:
    pairs: dict[str, dict[str, float]] = {}
    for line in (HERE / "heap_retention.txt").read_text().splitlines():
        if line[:1].isdigit():
            fields = line.split()
            pairs.setdefault(fields[0], {})[fields[1]] = float(fields[5])
    return [p["retain"] / p["glibc"] for p in pairs.values()]


def critic_ratios() -> list[float]:
    text = (HERE / "critic_passes.txt").read_text()
    return [float(r) for r in re.search(r"per round: ([\d. ]+);", text).group(1).split()]


for name, ratios in (("callbacks.heap", heap_ratios()), ("critic passes", critic_ratios())):
    logs = [math.log(r) for r in ratios]
    p = wilcoxon(logs, alternative="greater").pvalue
    print(
        f"{name}: {len(ratios)} pairs, {sum(r > 1 for r in ratios)} faster, geometric mean "
        f"{math.exp(sum(logs) / len(logs)):.3f}x, one-sided Wilcoxon p = {p:.4f}"
    )
