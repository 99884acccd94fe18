"""Run B's five models over five seeds: seeds 1-3 from run B's jobs here, seeds 4-5 of PAGAN
(channel) from ``../update_order_seeds45/`` and of the four others from ``../seeds45/`` (the same
plan settings, machine, precision and classifier). The jobs are read and grouped as
``pagan-collect`` reads and groups one sweep, and the paper's orderings get its verdicts
(Welch's t over seeds, Bonferroni over the orderings checked):

    cd docs/results/quick_bf16 && ../../../.venv/bin/python five_seeds.py > five_seeds.md
"""

from pathlib import Path

from pagan_lightning.cli.collect import find_jobs, read_job
from pagan_lightning.reporting import summary

HERE = Path(__file__).parent
MODELS = ("pagan_channel", "pagan_width", "noaug_channel", "l1", "gan")
ROOTS = (HERE, HERE.parent / "update_order_seeds45", HERE.parent / "seeds45")

jobs = [
    read_job(job)
    for root in ROOTS
    for job in find_jobs(root)
    if job.relative_to(root).parts[0] in MODELS
]
print(summary.summary_markdown(summary.group_jobs(jobs)), end="")
