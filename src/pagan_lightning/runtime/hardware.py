"""What the machine can do: counted FLOPs of a step, the peak FLOP/s it is measured against,
where a step's time goes by kind of operator, and whether bf16 runs natively (the
quickstart's automatic precision).

The CPU peak is an estimate from ``/proc/cpuinfo``, stated with its assumption: cores x clock x
FLOP per cycle of the widest vector unit, with two fused multiply-add units per core (AVX-512:
64 fp32 FLOP per cycle, AVX2 + FMA: 32, SSE: 8); bf16 doubles it where the CPU has AVX-512
BF16 or AMX. A CUDA device's peak comes from a table of known devices.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

CPUINFO = Path("/proc/cpuinfo")
# dense fp32 / bf16 tensor peak of known CUDA devices, TFLOP/s (vendor data sheets)
CUDA_PEAK_TFLOPS = {
    "H100": (67.0, 989.0),
    "H200": (67.0, 989.0),
    "A100": (19.5, 312.0),
    "L4": (30.3, 121.0),
    "A10": (31.2, 125.0),
    "T4": (8.1, 65.0),
}


def count_flops(step: Callable[[], object]) -> int:
    """FLOPs of one call of ``step`` (forward and backward passes it runs), counted by
    ``torch.utils.flop_counter`` (matmuls and convolutions; a multiply-add is 2 FLOPs)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


# kinds of operator, in the order they are tried, each with the words that mark its names in
# torch.profiler (lower case); what matches none is "other" (see also time_by_kind)
OP_KINDS = {
    "convolution": ("conv",),
    "matmul": ("::mm", "addmm", "bmm", "matmul", "addmv", "::mv", "linear"),
    "normalisation": ("batch_norm", "layer_norm", "group_norm"),
    "activation": ("relu", "threshold", "clamp", "tanh", "sigmoid", "gelu"),
}


def kind_of(op: str) -> str:
    """The kind of a profiler event by its name: a key of :data:`OP_KINDS`, or ``other``."""
    name = op.lower()
    kinds = (kind for kind, marks in OP_KINDS.items() if any(mark in name for mark in marks))
    return next(kinds, "other")


def time_by_kind(step: Callable[[], object], device: torch.device, steps: int) -> dict[str, float]:
    """Seconds a call of ``step`` spends in each kind of operator, the mean over ``steps`` calls
    under ``torch.profiler``: every event's self time (on a CUDA device, its kernels' time), so
    that the kinds add up to the whole of what the profiler saw. An event inside an optimizer's
    ``step`` is ``optimizer`` (Adam's per-parameter arithmetic), any other is
    :func:`kind_of` its name. The profiler adds its own cost to each operator call, most to
    the small ones."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    seconds = dict.fromkeys([*OP_KINDS, "optimizer", "other"], 0.0)
    for event in profile.events():
        if event.device_type != torch.autograd.DeviceType.CPU:
            continue  # a kernel: its time is in its operator's self_device_time_total
        own = event.self_device_time_total if device.type == "cuda" else event.self_cpu_time_total
        seconds["optimizer" if in_optimizer_step(event) else kind_of(event.name)] += own / 1e6
    return {kind: total / steps for kind, total in seconds.items()}


def in_optimizer_step(event: Any) -> bool:
    """Whether a profiler event ran inside ``Optimizer.step`` (torch's record_function)."""
    while event is not None:
        if event.name.startswith("Optimizer.step"):
            return True
        event = event.cpu_parent
    return False


@dataclass(frozen=True)
class Peak:
    """A peak rate in FLOP/s and how it was derived."""

    flops_per_s: float
    assumption: str


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none)."""
    if cpuinfo is None:
        cpuinfo = CPUINFO.read_text() if CPUINFO.is_file() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_mhz(cpuinfo: str | None = None) -> float | None:
    """The clock of the first CPU in ``/proc/cpuinfo``, MHz."""
    if cpuinfo is None:
        cpuinfo = CPUINFO.read_text() if CPUINFO.is_file() else ""
    for line in cpuinfo.splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":", 1)[1])
    return None


def native_cpu_bf16(flags: set[str]) -> bool:
    """AVX-512 BF16 or AMX: bf16 matmuls and convolutions run natively."""
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def cpu_peak(threads: int, bf16: bool = False, cpuinfo: str | None = None) -> Peak | None:
    """Peak FLOP/s of ``threads`` cores (see the module docstring); None without cpuinfo."""
    flags, mhz = cpu_flags(cpuinfo), cpu_mhz(cpuinfo)
    if not flags or mhz is None:
        return None
    if "avx512f" in flags:
        unit, per_cycle = "AVX-512", 64
    elif {"avx2", "fma"} <= flags:
        unit, per_cycle = "AVX2+FMA", 32
    else:
        unit, per_cycle = "SSE", 8
    native = bf16 and native_cpu_bf16(flags)
    per_cycle *= 2 if native else 1
    what = f"{threads} cores x {mhz / 1000:.2f} GHz x {per_cycle} {'bf16' if native else 'fp32'}"
    assumption = f"{what} FLOP/cycle ({unit}, 2 FMA units per core)"
    return Peak(threads * mhz * 1e6 * per_cycle, assumption)


def cuda_peak(device: torch.device, bf16: bool) -> Peak | None:
    """The data-sheet peak of a known CUDA device (dense fp32, or bf16 tensor cores)."""
    name = torch.cuda.get_device_name(device)
    for known, (fp32, half) in CUDA_PEAK_TFLOPS.items():
        if known in name:
            tflops = half if bf16 else fp32
            return Peak(tflops * 1e12, f"{name}: {tflops} TFLOP/s {'bf16' if bf16 else 'fp32'}")
    return None


def native_bf16() -> bool:
    """Whether bf16 runs natively here: a CUDA device with bf16, else a CPU with AVX-512 BF16
    or AMX."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return native_cpu_bf16(cpu_flags())


def bf16_support() -> str:
    """What :func:`native_bf16` found, in words."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        return f"{name} {'has' if torch.cuda.is_bf16_supported() else 'lacks'} bf16"
    found = sorted({"avx512_bf16", "amx_bf16"} & cpu_flags())
    return f"CPU with {', '.join(found)}" if found else "CPU without AVX-512 BF16 or AMX"


def auto_precision() -> str:
    """``bf16-mixed`` where bf16 is native (:func:`native_bf16`), else ``32-true``."""
    return "bf16-mixed" if native_bf16() else "32-true"
