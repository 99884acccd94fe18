"""FLOPs are counted, a step's time is split by kind of operator, peaks derived with their
assumption, and the quickstart's precision follows what the machine has (detection mocked
both ways)."""

from pathlib import Path

import pytest
import torch
from torch import nn

from pagan_lightning.runtime import hardware
from pagan_lightning.runtime.configs import automatic_precision
from tests.helpers.configs import compose_train

AVX2 = "processor\t: 0\ncpu MHz\t\t: 2600.000\nflags\t\t: fpu sse avx avx2 fma\n"
BF16 = AVX2.replace("fma\n", "fma avx512f avx512_bf16\n")


def test_flops_of_one_conv_and_one_linear_match_a_hand_count() -> None:
    """Conv 1->4, 3x3 on 8x8 (6x6 out): 2 x 144 outputs x 9 MACs = 2,592 forward; Linear
    144->10: 2 x 144 x 10 = 2,880 forward. Backward: the linear's input and weight gradients
    (2 x 2,880), the conv's weight gradient (2,592; its input needs no gradient)."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 10))
    x = torch.randn(1, 1, 8, 8)
    assert hardware.count_flops(lambda: net(x)) == 2592 + 2880
    assert hardware.count_flops(lambda: net(x).sum().backward()) == 2592 + 2880 + 2 * 2880 + 2592


@pytest.mark.parametrize(
    ("op", "kind"),
    [
        ("aten::convolution_backward", "convolution"),
        ("aten::_convolution", "convolution"),
        ("aten::addmm", "matmul"),
        ("aten::mm", "matmul"),
        ("aten::native_batch_norm_backward", "normalisation"),
        ("aten::leaky_relu_backward", "activation"),
        ("aten::threshold_backward", "activation"),
        ("aten::empty", "other"),
        ("aten::mul", "other"),
    ],
)
def test_profiler_events_are_sorted_by_kind_of_operator(op: str, kind: str) -> None:
    assert hardware.kind_of(op) == kind


def test_a_steps_time_by_kind_holds_each_kind_it_runs_and_none_it_does_not() -> None:
    """A conv, a LeakyReLU, a linear and an Adam step: time in each of those kinds (Adam's
    per-parameter arithmetic under optimizer, not other) and none in normalisation."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(144, 10))
    optimizer = torch.optim.Adam(net.parameters(), foreach=False)
    x = torch.randn(2, 1, 8, 8)

    def step() -> None:
        optimizer.zero_grad()
        net(x).sum().backward()
        optimizer.step()

    seconds = hardware.time_by_kind(step, torch.device("cpu"), steps=2)
    assert set(seconds) == {*hardware.OP_KINDS, "optimizer", "other"}
    assert all(seconds[k] > 0 for k in ("convolution", "activation", "matmul", "optimizer"))
    assert seconds["normalisation"] == 0

    only_adam = hardware.time_by_kind(optimizer.step, torch.device("cpu"), steps=2)
    assert only_adam["optimizer"] > 0
    assert only_adam["convolution"] == only_adam["matmul"] == only_adam["activation"] == 0


def test_cpu_peak_is_cores_times_clock_times_the_widest_unit() -> None:
    peak = hardware.cpu_peak(2, cpuinfo=AVX2)
    assert peak.flops_per_s == pytest.approx(2 * 2.6e9 * 32)
    assert "2 cores x 2.60 GHz x 32 fp32" in peak.assumption and "AVX2+FMA" in peak.assumption
    assert hardware.cpu_peak(2, bf16=True, cpuinfo=BF16).flops_per_s == pytest.approx(
        2 * 2.6e9 * 128
    )
    assert hardware.cpu_peak(2, cpuinfo="") is None


@pytest.mark.parametrize(("cpuinfo", "precision"), [(BF16, "bf16-mixed"), (AVX2, "32-true")])
def test_the_quickstart_picks_bf16_only_where_it_is_native(
    cpuinfo: str, precision: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cpuinfo").write_text(cpuinfo)
    monkeypatch.setattr(hardware, "CPUINFO", tmp_path / "cpuinfo")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose_train(["experiment=quickstart"], tmp_path)
    assert cfg.trainer.precision == precision
    assert automatic_precision(cfg).startswith(f"trainer.precision={precision} (automatic: CPU")
    overridden = compose_train(["experiment=quickstart", "trainer.precision=32-true"], tmp_path)
    assert automatic_precision(overridden) is None
