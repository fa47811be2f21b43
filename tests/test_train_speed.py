"""The training step's precision choice, its FLOP count, and the train log's speed figures."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from bench import train_speed
from diffill.model.backends.transformer import config_for_size
from diffill.model.training import loop
from diffill.server.cli import main

from .test_cli import DEFAULT_MODEL, STDLIB

CPU = torch.device("cpu")


def test_an_explicit_precision_is_taken_without_measuring(monkeypatch):
    def no_measuring(*_args, **_kwargs):
        raise AssertionError("measured although the precision was given")

    monkeypatch.setattr(loop, "matmul_tflops", no_measuring)
    assert loop.train_in_bf16(CPU, "fp32", print) is False
    assert loop.train_in_bf16(CPU, "bf16", print) is True


@pytest.mark.parametrize(
    ("fp32", "bf16", "expected"),
    [(0.15, 0.09, False), (0.15, 0.17, False), (0.15, 1.2, True)],
)
def test_auto_takes_bf16_only_where_it_is_measured_faster(monkeypatch, fp32, bf16, expected):
    # An AVX512-BF16 Xeon without AMX measured bf16 slower than fp32; with AMX it is ~10x.
    monkeypatch.setattr(loop, "fast_bf16", lambda _device: True)
    rates = {torch.float32: fp32, torch.bfloat16: bf16}
    monkeypatch.setattr(loop, "matmul_tflops", lambda _d, dtype, _s: rates[dtype])
    lines: list[str] = []
    assert loop.train_in_bf16(CPU, "auto", lines.append) is expected
    assert "fp32" in lines[0] and "bf16" in lines[0]


def test_auto_is_fp32_on_a_cpu_without_bf16_units(monkeypatch):
    monkeypatch.setattr(loop, "fast_bf16", lambda _device: False)
    assert loop.train_in_bf16(CPU, "auto", print) is False


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        loop.TrainOptions(corpus=("x",), out="y", steps=1, precision="fp16")


def test_step_flops_count_parameters_and_attention():
    cfg = config_for_size("proxy", 8194)
    assert loop.step_flops_per_token(cfg, 1000, 512) == 6 * 1000 + 12 * 6 * 512 * 256


def tiny_block_ar_args(tmp_path) -> list[str]:
    """`diffill train` arguments for a tiny block-ar run on four stdlib files into
    tmp_path/run, in fp32 on the CPU; the caller adds the budget."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py"):
        shutil.copy(STDLIB / name, corpus / name)
    args = ["train", "--corpus", str(corpus), "--out", str(tmp_path / "run"), "--size", "tiny"]
    args += ["--objective", "block-ar", "--batch-size", "2", "--seq-tokens", "96"]
    args += ["--device", "cpu", "--precision", "fp32"]
    return [*args, "--tokenizer", str(DEFAULT_MODEL / "tokenizer.json")]


def test_train_log_reports_tokens_per_second_and_mfu(tmp_path):
    assert main([*tiny_block_ar_args(tmp_path), "--steps", "2"]) == 0
    lines = [
        json.loads(x)
        for x in (tmp_path / "run" / "train_log.jsonl").read_text().split("\n")
        if x.strip()
    ]
    steps = [x for x in lines if "step" in x and "event" not in x]
    assert steps, lines
    assert all(x["tokens_per_s"] > 0 and x["mfu"] > 0 for x in steps)
    assert all(x["matmul_tflops"] > 0 for x in steps)  # the yardstick each MFU is against


def test_the_benchmark_measures_a_real_step():
    for optimizer in ("adamw", "muon"):
        row = train_speed.measure(
            "tiny", "fp32", optimizer, batch=2, seq=64, steps=1, compile_=False
        )
        assert row["optimizer"] == optimizer
        assert row["parameters"] > 0 and row["tokens_per_s"] > 0 and row["mfu"] > 0
    batch = train_speed.random_batch(100, 2, 8, 0)
    assert torch.equal(batch.ar_target[:, :-1], batch.inputs[:, 1:])
