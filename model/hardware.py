"""Which device to run on, what its CPU can do (instruction sets), whether bf16 arithmetic
is fast there, and how fast it multiplies matrices."""

from __future__ import annotations

import functools

import torch

# The instruction sets that decide which arithmetic is fast on a CPU, as /proc/cpuinfo
# names them: AVX2 (fp32 FMA), AVX-512, bf16 dot products (AVX512-BF16), the AMX tile
# units (bf16 and int8 matrix products) and the int8 dot products (VNNI).
INSTRUCTION_SETS = (
    "avx2",
    "avx512f",
    "avx512_bf16",
    "avx512_vnni",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` picks CUDA when present, else the CPU; anything else must be available."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but no CUDA device is available")
    if device.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (/proc/cpuinfo's `flags`); empty where that is not readable."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def instruction_sets() -> dict[str, bool]:
    """Which of `INSTRUCTION_SETS` this CPU has."""
    flags = cpu_flags()
    return {name: name in flags for name in INSTRUCTION_SETS}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform says."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fast_bf16(device: torch.device) -> bool:
    """bf16 matrix products are fast on CUDA and on CPUs with AMX or AVX512-BF16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def matmul_tflops(device: torch.device, dtype: torch.dtype, seconds: float = 0.5) -> float:
    """Dense matrix-product throughput measured here now (TFLOP/s), the yardstick for a
    model's FLOP utilisation: square products timed after a warm-up, the best of the sizes
    tried. One size timed once reads low on a noisy CPU (2026-12-07, AMD EPYC with AVX2:
    1024-square products right after training steps at 0.082-0.090 TFLOP/s, against
    0.103 at 1024 and 0.110 at 2048 on the idle machine, which put a step's MFU near 100%);
    the best of two sizes keeps the figure conservative."""
    import time

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    sizes = (4096,) if device.type == "cuda" else (1024, 2048)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        sync()
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / len(sizes) or reps == 0:
            a @ b
            reps += 1
            sync()
        spent = time.perf_counter() - t0
        best = max(best, 2 * n**3 * reps / spent / 1e12)
        if spent / reps * 8 > seconds:  # the next size's one product would overrun the time
            break
    return best


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"{cpu_model()}, {torch.get_num_threads()} threads, "
        f"{torch.backends.cpu.get_cpu_capability()}"
    )
