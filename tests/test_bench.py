"""The throughput benchmark compares like with like, and prints its ratio last."""

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from pagan_lightning.cli import bench
from tests.helpers.configs import TINY, compose_train, quiet_trainer


def test_plain_step_does_the_work_of_training_step(tmp_path: Path) -> None:
    """From the same weights and RNG state, one batch of the plain loop and one Trainer step
    give the same parameters: the same forwards, draws, losses and optimizer updates."""
    cfg = compose_train(TINY, tmp_path)
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    lightning, plain = (bench.build_model(cfg, torch.device("cpu")) for _ in range(2))
    torch.manual_seed(1)
    quiet_trainer(tmp_path, max_steps=1).fit(lightning, DataLoader(TensorDataset(x), batch_size=8))
    opt_g, opt_d = plain.make_optimizers()
    torch.manual_seed(1)
    for (batch,) in DataLoader(TensorDataset(x), batch_size=8):  # draws the loader's seed too
        bench.plain_step(plain, batch, opt_g, opt_d, True, bench.nullcontext)
    for (name, a), b in zip(lightning.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a, b, msg=name)


def test_bench_runs_end_to_end_and_prints_the_ratio_last(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Counted FLOPs, the share of peak, the speed-up against another config. (With a
    learning-rate schedule, which the plain loop leaves out: it costs no time.)"""
    args = ["--steps", "2", "--warmup", "1", "--rounds", "2", "--sweep-rounds", "1"]
    args += ["--batch-sizes", "4,8", "model/lr_schedule=linear"]
    against = ["--against", "model.update_order=alternating"]
    ratio = bench.main([*args, "--eval-images", "8", *TINY, "data.batch_size=8", *against])
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("one generator step: ") and "GFLOP" in line for line in lines)
    assert any(line.startswith("against ") and "% of peak" in line for line in lines)
    assert any(line.startswith("speed-up against it: ") for line in lines)
    kinds = [line.split()[0] for line in lines if line.startswith("  ") and " ms " in line]
    assert kinds == ["convolution", "matmul", "normalisation", "activation", "optimizer", "other"]
    assert any(line.startswith("convolutions and matmuls: ") for line in lines)
    assert lines[-1] == f"trainer/plain throughput ratio: {ratio:.3f}" and ratio > 0
    assert any(line.startswith("evaluation: ") for line in lines)
    assert [line.split()[0] for line in lines if line.split()[:1] in (["4"], ["8"])] == ["4", "8"]


def test_bench_checks_its_config_like_pagan_train() -> None:
    with pytest.raises(SystemExit, match=r"^error: unknown key model\.nope"):
        bench.main(["--steps", "1", *TINY, "+model.nope=1"])


def test_bench_refuses_to_compare_a_process_wide_setting_in_one_process() -> None:
    with pytest.raises(SystemExit, match=r"^error: --against cannot change callbacks\.heap"):
        bench.main(["--steps", "1", *TINY, "--against", "callbacks.heap=null"])
