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


def machine() -> dict:
    device = torch.device("cpu")
    return {
        "cpu": describe(device),
        "cores": os.cpu_count(),
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
