"""The critics' passes of a simultaneous step: one pass over cat(real, fake) (before) against
two passes, real and fake, under one spectral normalisation (now), so that the generator's
backward pass skips the real half. In one process, 10-step blocks in alternation (ABBA);
prints the FLOPs of a step of each and the steps/s of every block.

    OMP_NUM_THREADS=2 .venv/bin/python docs/results/speed/critic_passes.py > critic_passes.txt
"""

import time
from contextlib import nullcontext

import torch
from hydra import initialize_config_dir

from pagan_lightning import algorithm
from pagan_lightning.algorithm import objective_of
from pagan_lightning.cli import bench
from pagan_lightning.runtime import hardware
from pagan_lightning.runtime.configs import config_dir

ROUNDS, BLOCK = 10, 10


def one_pass(parts, s, detach=True):
    """discriminator_losses before: each critic once over cat(real, fake) (no penalty here)."""
    games = parts.games()
    inputs = {name: (game.real(s, parts.augmenter), game.fake(s)) for name, game in games.items()}
    losses, fake_outputs = {}, {}
    for name, game in games.items():
        real, fake = inputs[name]
        fake = tuple(t.detach() for t in fake) if detach else fake
        both = [torch.cat([r, f]) for r, f in zip(real, fake, strict=True)]
        real_out, fake_outputs[name] = game(*both).float().chunk(2)
        objective = objective_of(parts, game)
        losses[f"d_{name}"] = objective.discriminator_loss(real_out, fake_outputs[name])
    return losses, sum(losses[f"d_{name}"] for name in games), fake_outputs


variants = {"one pass (before)": one_pass, "two passes (now)": algorithm.discriminator_losses}
with initialize_config_dir(config_dir=str(config_dir()), version_base=None):
    cfg = bench.train_config(["experiment=quickstart", "trainer.precision=32-true"])
model = bench.build_model(cfg, torch.device("cpu"))
opt_g, opt_d = model.make_optimizers()
x = torch.rand(64, 1, 32, 32).contiguous(memory_format=torch.channels_last) * 2 - 1


def step():
    bench.plain_step(model, x, opt_g, opt_d, True, nullcontext)


print(f"device: CPU, {torch.get_num_threads()} threads; quickstart, fp32, batch 64")
steps = {label: [] for label in variants}
for label, losses in variants.items():
    algorithm.discriminator_losses = losses
    print(f"{label}: {hardware.count_flops(step) / 1e9:.2f} GFLOP a step")
    for _ in range(3):
        step()
for r in range(ROUNDS):
    for label in list(variants)[:: 1 if r % 2 == 0 else -1]:
        algorithm.discriminator_losses = variants[label]
        step()
        start = time.perf_counter()
        for _ in range(BLOCK):
            step()
        steps[label].append(BLOCK / (time.perf_counter() - start))
for label, rates in steps.items():
    print(f"{label} steps/s: {' '.join(f'{r:.2f}' for r in rates)}")
before, now = steps.values()
ratios = [b / a for a, b in zip(before, now, strict=True)]
ratios_text = " ".join(f"{r:.2f}" for r in ratios)
geo = torch.tensor(ratios).log().mean().exp()
print(f"now/before per round: {ratios_text}; geometric mean {geo:.3f}")
