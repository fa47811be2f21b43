"""The arithmetic a model runs in (`diffill.model.precision`): the automatic choice and
its reason in the facts, float32 / bfloat16 / int8 giving the expected dtypes and
near-equal logits, and the setting that overrides the choice (`load`, `--dtype`, the
server's `diffill.dtype`)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from diffill.model import checkpoint, load, precision
from diffill.model.backends.transformer import DiffusionLM
from diffill.server.cli.model_options import DTYPES as CLI_DTYPES
from diffill.server.cli.parser import build_parser
from diffill.server.lsp.settings import Settings, parse_settings

from .conftest import tiny_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory, tokenizer):
    path = tmp_path_factory.mktemp("tiny") / "model"
    torch.manual_seed(0)
    model = tiny_model(tokenizer.vocab_size, span_positions=48)
    checkpoint.save(path, model, tokenizer, dtype=torch.float32)
    return path


def linears(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def quantised(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]


def test_auto_is_bf16_exactly_where_bf16_is_fast(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "fast_bf16", lambda device: True)
    fast = precision.choose("auto", cpu)
    assert (fast.requested, fast.dtype) == ("auto", "bfloat16")
    monkeypatch.setattr(precision, "fast_bf16", lambda device: False)
    slow = precision.choose("auto", cpu)
    assert slow.dtype == "float32" and "no fast bf16" in slow.reason
    assert precision.choose("int8", cpu).dtype == "int8"  # never automatic, always allowed


@pytest.mark.parametrize(
    ("units", "reason"),
    [
        ({"avx512_bf16": True, "amx_bf16": False}, "this CPU has AVX512-BF16"),
        ({"avx512_bf16": True, "amx_bf16": True}, "this CPU has AMX-BF16 and AVX512-BF16"),
        ({}, "this CPU passes oneDNN's bf16 test"),
    ],
)
def test_the_reason_names_the_bf16_units(monkeypatch, units, reason):
    monkeypatch.setattr(precision, "fast_bf16", lambda device: True)
    monkeypatch.setattr(precision, "instruction_sets", lambda: units)
    chosen = precision.choose("auto", torch.device("cpu"))
    assert chosen.reason == reason
    assert precision.why(chosen.to_dict()) == f"auto: {reason}"
    assert precision.why(precision.choose("float32", torch.device("cpu")).to_dict()) == "asked for"


def test_info_shows_the_dtype_and_its_reason(folder, capsys):
    from diffill.server.cli import main

    assert main(["info", "--model", str(folder), "--dtype", "float32"]) == 0
    assert "\ndtype        float32 (asked for)\n" in capsys.readouterr().out
    assert main(["info", "--model", str(folder), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    expected = precision.choose("auto", torch.device("cpu"))
    assert facts["dtype"] == expected.dtype == facts["precision"]["dtype"]
    assert facts["dtype_reason"].startswith(f"auto: {expected.reason}")


def test_unknown_dtypes_and_int8_off_the_cpu_are_refused():
    with pytest.raises(ValueError, match="dtype must be one of"):
        precision.choose("float16", torch.device("cpu"))
    with pytest.raises(ValueError, match="CPU only"):
        precision.choose("int8", torch.device("cuda"))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int8"])
def test_each_dtype_loads_as_asked_and_its_logits_stay_close(folder, dtype):
    exact = load(folder, dtype="float32")
    backend = load(folder, dtype=dtype)
    facts = backend.facts
    assert facts.dtype == dtype
    cpu = torch.device("cpu")
    packed = precision.packs_weights(precision.choose(dtype, cpu), cpu)
    reason = f"asked for; {precision.PACKED}" if packed else "asked for"
    assert facts.precision == {"requested": dtype, "dtype": dtype, "reason": reason}
    assert facts.parameters == exact.facts.parameters  # quantised weights still counted
    model = backend.model
    assert isinstance(model, DiffusionLM)
    if dtype == "int8":
        assert not linears(model) and len(quantised(model)) == 4 * model.cfg.n_layers + 1
        assert model.embed.weight.dtype == torch.float32  # and so the tied projection
        assert facts.weight_bytes < exact.facts.weight_bytes
    else:
        assert not quantised(model)
        assert {p.dtype for p in model.parameters()} == {getattr(torch, dtype)}
    ids = torch.tensor([backend.tokenizer.encode("def area(r):\n    return 3.14 * r * r\n")])
    want, got = exact.logits(ids), backend.logits(ids)
    assert got.dtype == torch.float32 and got.shape == want.shape
    # Close: a small error against the logits' spread (measured: bf16 0.03, int8 0.1),
    # the same top choice almost everywhere.
    error = (got - want).abs().max() / want.std()
    agree = (got.argmax(-1) == want.argmax(-1)).float().mean()
    assert error < {"float32": 1e-5, "bfloat16": 0.08, "int8": 0.25}[dtype]
    assert agree >= (1.0 if dtype == "float32" else 0.95)
    text = backend.infill("def area(r):\n    return ", "\n", length=4).text
    assert isinstance(text, str)


def test_the_automatic_choice_is_recorded_in_the_facts(folder):
    facts = load(folder).facts
    expected = precision.choose("auto", torch.device("cpu"))
    assert facts.dtype == expected.dtype
    assert facts.precision["requested"] == "auto"
    assert facts.precision["reason"].startswith(expected.reason)


fast_bf16_cpu = pytest.mark.skipif(
    not precision.packs_weights(
        precision.Precision("bfloat16", "bfloat16", "test"), torch.device("cpu")
    ),
    reason="this CPU's oneDNN has no bf16 kernels, so weights are never packed here",
)


@fast_bf16_cpu
def test_packed_weights_give_the_same_bits_as_plain_ones(tokenizer):
    # One layer of the base size's widths: oneDNN's blocking depends on them.
    base = dict(dim=512, n_heads=8, mlp_dim=1408, n_layers=1, span_positions=48)
    plain = tiny_model(tokenizer.vocab_size, **base).to(torch.bfloat16)
    packed = tiny_model(tokenizer.vocab_size, **base).to(torch.bfloat16)
    keys = list(packed.state_dict())
    packed.pack_weights()
    assert list(packed.state_dict()) == keys  # the same checkpoint keys
    assert not linears(packed) and packed.packed_embedding is not None
    # Row counts either side of oneDNN's blocking (PACK_ROWS), one row as in a peer step.
    with torch.no_grad():
        for rows in (1, 7, 33, 64, 100):
            ids = torch.randint(0, tokenizer.vocab_size, (2, rows))
            pos = torch.arange(rows).expand(2, rows)
            h, _ = plain.hidden(ids, pos)
            hp, _ = packed.hidden(ids, pos)
            assert torch.equal(h, hp), rows
            assert torch.equal(plain.token_logits(h), packed.token_logits(hp))
            assert torch.equal(plain.length_logits(h), packed.length_logits(hp))


@fast_bf16_cpu
def test_a_packed_copy_is_never_used_stale(tokenizer):
    net = tiny_model(tokenizer.vocab_size, seed=1).to(torch.bfloat16)
    net.pack_weights()
    other = tiny_model(tokenizer.vocab_size, seed=2).to(torch.bfloat16)
    ids = torch.randint(0, tokenizer.vocab_size, (1, 20))
    pos = torch.arange(20)[None]
    with torch.no_grad():
        net.load_state_dict(other.state_dict())  # copies in place into the packed weights
        assert torch.equal(net(ids, pos), other(ids, pos))
        net.float()  # a cast makes new weights: the packed copies go
        assert net.packed_embedding is None
        assert torch.equal(net(ids, pos), other.float()(ids, pos))


@fast_bf16_cpu
def test_loading_in_bf16_packs_and_float32_does_not(folder):
    bf16 = load(folder, dtype="bfloat16").model
    fp32 = load(folder, dtype="float32").model
    assert isinstance(bf16, DiffusionLM) and isinstance(fp32, DiffusionLM)
    assert bf16.packed_embedding is not None and not linears(bf16)
    assert fp32.packed_embedding is None and linears(fp32)


def test_without_the_packing_ops_bf16_runs_plain_linear_layers(folder, monkeypatch):
    monkeypatch.setattr(precision, "_has_packing_ops", lambda: False)
    backend = load(folder, dtype="bfloat16")
    model = backend.model
    assert isinstance(model, DiffusionLM)
    assert model.packed_embedding is None and linears(model)
    assert precision.PACKED not in backend.facts.precision["reason"]


def test_a_network_built_in_memory_states_its_own_dtype(infiller):
    assert infiller.facts.precision["requested"] == "as built"
    assert infiller.facts.dtype == "float32"


def test_the_command_line_offers_the_same_dtypes():
    assert CLI_DTYPES == precision.DTYPES
    args = build_parser().parse_args(["info", "--dtype", "int8"])
    assert args.dtype == "int8"
    assert build_parser().parse_args(["info"]).dtype == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["info", "--dtype", "fp16"])


def test_the_dtype_setting_is_validated_and_the_default_kept():
    got, problems = parse_settings({"dtype": "int8"}, Settings())
    assert (got.dtype, problems) == ("int8", [])
    got, problems = parse_settings({"dtype": "fp16"}, Settings(dtype="bfloat16"))
    assert got.dtype == "auto"  # the default, not the bad value
    assert len(problems) == 1 and "diffill.dtype" in problems[0] and "int8" in problems[0]
    started = Settings(dtype="float32")  # diffill serve --dtype float32
    got, problems = parse_settings({"dtype": None}, started, started)
    assert (got.dtype, problems) == ("float32", [])
