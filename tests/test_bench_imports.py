"""Every benchmark module imports: a restructure that moves a module breaks `bench/` without
any other test noticing (bench/refactor_ray.py once imported diffill.model.data after it moved)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"))
def test_the_benchmark_module_imports(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(getattr(module, "main", None)) or name == "machine"
