"""The machine a benchmark ran on, saved beside its figures."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from diffill.model.hardware import describe, fast_bf16

RESULTS = Path(__file__).parent / "results"


# The instruction sets that decide which arithmetic is fast (see diffill.model.precision).
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """Those of ISA_FLAGS the CPU has, from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    have = set(line.partition(":")[2].split())
    return [f for f in ISA_FLAGS if f in have]


def machine() -> dict:
    device = torch.device("cpu")
    return {
        "cpu": describe(device),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        # Other work on the machine (the 1, 5 and 15 minute load averages) when saved.
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "bf16_fast": fast_bf16(device),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def save(name: str, figures: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
