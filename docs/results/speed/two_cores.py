"""Ways to spend 2 cores on one process's training step, in one process, 10-step blocks in
rotation: the default (each operator on 2 OpenMP threads, one after the other), one thread,
and the simultaneous step's two backward passes (L_d into the critics, L_g / L_e into G and E)
at once in two Python threads of one OpenMP thread each, then both optimizer steps.

    .venv/bin/python docs/results/speed/two_cores.py > two_cores.txt
"""

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import torch
from hydra import initialize_config_dir

from pagan_lightning import algorithm
from pagan_lightning.cli import bench
from pagan_lightning.runtime.configs import config_dir

ROUNDS, BLOCK = 8, 10
pool = ThreadPoolExecutor(2, initializer=torch.set_num_threads, initargs=(1,))
threads = torch.get_num_threads()


def two_backward_threads(model, x, opt_g, opt_d):
    samples = algorithm.draw_samples(model, x)
    _, loss_d, fake_outputs = algorithm.discriminator_losses(model, samples, detach=False)
    _, loss_g = algorithm.generator_losses(model, samples, fake_outputs)
    opt_d.zero_grad(set_to_none=True)
    opt_g.zero_grad(set_to_none=True)
    d = pool.submit(loss_d.backward, inputs=model.discriminator_parameters(), retain_graph=True)
    g = pool.submit(loss_g.backward, inputs=model.generator_parameters(), retain_graph=True)
    d.result(), g.result()
    d, g = pool.submit(opt_d.step), pool.submit(opt_g.step)
    d.result(), g.result()


def one_thread(model, x, opt_g, opt_d):
    torch.set_num_threads(1)
    bench.plain_step(model, x, opt_g, opt_d, True, nullcontext)
    torch.set_num_threads(threads)


def default(model, x, opt_g, opt_d):
    bench.plain_step(model, x, opt_g, opt_d, True, nullcontext)


variants = {
    f"{threads} threads (default)": default,
    "1 thread": one_thread,
    "two backward threads": two_backward_threads,
}
with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
    cfg = bench.train_config(["experiment=quickstart", "trainer.precision=32-true"])
model = bench.build_model(cfg, torch.device("cpu"))
opt_g, opt_d = model.make_optimizers()
x = torch.rand(64, 1, 32, 32).contiguous(memory_format=torch.channels_last) * 2 - 1
print(f"device: CPU, {threads} threads; quickstart, fp32, batch 64, simultaneous order")
steps = {label: [] for label in variants}
for step in variants.values():
    for _ in range(3):
        step(model, x, opt_g, opt_d)
for r in range(ROUNDS):
    for label in list(variants)[:: 1 if r % 2 == 0 else -1]:
        variants[label](model, x, opt_g, opt_d)
        start = time.perf_counter()
        for _ in range(BLOCK):
            variants[label](model, x, opt_g, opt_d)
        steps[label].append(BLOCK / (time.perf_counter() - start))
base = steps[next(iter(variants))]
for label, rates in steps.items():
    ratios = torch.tensor([r / b for r, b in zip(rates, base, strict=True)])
    print(
        f"{label}: steps/s {' '.join(f'{r:.2f}' for r in rates)}; against the default "
        f"{' '.join(f'{q:.2f}' for q in ratios)} (geometric mean {ratios.log().mean().exp():.2f})"
    )
