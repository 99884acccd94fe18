"""Page faults and steps/s of the quickstart's plain step (fp32, batch 64) in a fresh process,
with glibc's malloc as it comes or told by mallopt(3) to keep freed memory
(``retain``: M_MMAP_THRESHOLD and M_TRIM_THRESHOLD at 1 GiB), after 5 warm-up steps.
heap_retention.sh runs it in alternation, a fresh process each.

    .venv/bin/python docs/results/speed/heap_retention.py [retain]
"""

import ctypes
import resource
import sys
import time
from contextlib import nullcontext

import torch
from hydra import initialize_config_dir

from pagan_lightning.cli import bench
from pagan_lightning.runtime.configs import config_dir

STEPS = 40
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
retain = sys.argv[1:] == ["retain"]
if retain:
    libc = ctypes.CDLL("libc.so.6")
    assert libc.mallopt(M_MMAP_THRESHOLD, 2**30) == libc.mallopt(M_TRIM_THRESHOLD, 2**30) == 1
with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
    cfg = bench.train_config(["experiment=quickstart", "trainer.precision=32-true"])
model = bench.build_model(cfg, torch.device("cpu"))
opt_g, opt_d = model.make_optimizers()
x = torch.rand(64, 1, 32, 32).contiguous(memory_format=torch.channels_last) * 2 - 1
for _ in range(5):
    bench.plain_step(model, x, opt_g, opt_d, True, nullcontext)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
start = time.perf_counter()
for _ in range(STEPS):
    bench.plain_step(model, x, opt_g, opt_d, True, nullcontext)
seconds = time.perf_counter() - start
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / STEPS
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
label = "retain" if retain else "glibc"
print(f"{label} faults/step {faults:.0f} steps/s {STEPS / seconds:.2f} peak_rss_mib {peak:.0f}")
