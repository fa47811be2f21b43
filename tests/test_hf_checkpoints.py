"""Open diffusion checkpoints in the Hugging Face format (Dream family, Open-dCoder, LLaDA).

Tiny random folders of each family (tests/open_checkpoints.py) are loaded through
`diffill.model.load`; their logits are compared with `transformers`' Qwen2 and Llama
models run with a full attention mask, and the whole editing path runs on them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from diffill.model import (
    Cancelled,
    CheckpointError,
    InfillRequest,
    ModelTooLarge,
    load,
    precision,
)
from diffill.model.backends.open_checkpoints import HFInfiller
from diffill.model.backends.open_checkpoints import checkpoint as hf_checkpoint
from diffill.model.backends.open_checkpoints import infiller as hf_infiller

from .open_checkpoints import (
    DREAM_SPECIALS,
    dream_folder,
    llada_folder,
    llada_name_to_llama,
)

DREAM_VARIANTS = ("dream", "diffucoder", "open-dcoder")
FAMILIES = (*DREAM_VARIANTS, "llada")
PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("open")
    out = {v: dream_folder(root / v, v, seed=i) for i, v in enumerate(DREAM_VARIANTS)}
    out["llada"] = llada_folder(root / "llada", seed=7)
    return out


@pytest.fixture(scope="module")
def infillers(folders) -> dict[str, HFInfiller]:
    # float32: the comparison with the reference is to 1e-4 (dtype "auto" may pick bf16).
    # A short span limit keeps the length probe's canvas, and so the tests, small.
    out = {
        name: hf_infiller.load(folder, dtype="float32", max_span_tokens=24)
        for name, folder in folders.items()
    }
    for inf in out.values():
        assert inf.facts.precision == {
            "requested": "float32",
            "dtype": "float32",
            "reason": "asked for",
        }
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_load_dispatches_hugging_face_folders(family, folders):
    inf = load(folders[family], device="auto")
    assert isinstance(inf, HFInfiller) and inf.facts.folder == folders[family]
    assert inf.max_span_tokens == hf_infiller.DEFAULT_MAX_SPAN_TOKENS
    assert inf.facts.parameters == inf.model.num_parameters() > 0
    assert inf.facts.device and inf.facts.name == str(folders[family])


def _state(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return load_file(str(folder / "model.safetensors"))
    files = set(json.loads(index.read_text())["weight_map"].values())
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state |= load_file(str(folder / f))
    return state


def _reference(folder: Path):
    """`transformers`' own model of the same weights, run with full attention."""
    transformers = pytest.importorskip("transformers")
    config = json.loads((folder / "config.json").read_text())
    state = _state(folder)
    if config["model_type"] == "llada":
        cfg = transformers.LlamaConfig(
            vocab_size=config["embedding_size"],
            hidden_size=config["d_model"],
            intermediate_size=config["mlp_hidden_size"],
            num_hidden_layers=config["n_layers"],
            num_attention_heads=config["n_heads"],
            num_key_value_heads=config["n_kv_heads"],
            rms_norm_eps=config["rms_norm_eps"],
            rope_theta=config["rope_theta"],
            max_position_embeddings=config["max_sequence_length"],
            tie_word_embeddings=False,
        )
        model = transformers.LlamaForCausalLM(cfg)
        state = {llada_name_to_llama(k): v for k, v in state.items()}
    else:
        cfg = transformers.Qwen2Config(
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            num_hidden_layers=config["num_hidden_layers"],
            num_attention_heads=config["num_attention_heads"],
            num_key_value_heads=config["num_key_value_heads"],
            rms_norm_eps=config["rms_norm_eps"],
            rope_theta=config["rope_theta"],
            max_position_embeddings=config["max_position_embeddings"],
            tie_word_embeddings=config["tie_word_embeddings"],
        )
        model = transformers.Qwen2ForCausalLM(cfg)
    model.load_state_dict(state, strict=not cfg.tie_word_embeddings)
    if cfg.tie_word_embeddings:
        model.tie_weights()
    return model.float().eval()


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_match_transformers_with_full_attention(family, folders, infillers):
    inf = infillers[family]
    ref = _reference(folders[family])
    torch.manual_seed(0)
    ids = torch.randint(0, inf.tokenizer.vocab_size, (2, 23))
    with torch.no_grad():
        full = torch.ones(2, 1, 23, 23, dtype=torch.bool)  # a 4D mask replaces the causal one
        expected = ref(ids, attention_mask=full).logits.float()
        causal = ref(ids).logits.float()
    if family != "llada":  # the Dream family predicts the next token: shift back by one
        expected = torch.cat((expected[:, :1], expected[:, :-1]), dim=1)
    got = inf.logits(ids)
    assert got.shape == (2, 23, expected.shape[-1])
    assert (got - expected).abs().max() < 1e-4  # float32 on both sides (measured: 0)
    # and the comparison has teeth: the causal model differs
    assert (got - causal).abs().max() > 1e-2


def _reference_logits(folder: Path, ids: torch.Tensor) -> torch.Tensor:
    """`transformers`' float32 logits of `ids` with full attention, position i predicting
    token i (the Dream family's shifted back by one)."""
    ref = _reference(folder)
    with torch.no_grad():
        full = torch.ones(ids.shape[0], 1, ids.shape[1], ids.shape[1], dtype=torch.bool)
        out = ref(ids, attention_mask=full).logits.float()
    if ref.config.model_type == "llama":
        return out
    return torch.cat((out[:, :1], out[:, :-1]), dim=1)


def _pretend_fast_bf16(monkeypatch, fast: bool) -> None:
    """Make this machine look like one where bf16 is fast (or slow), for the one place
    that decides (`precision.choose`)."""
    monkeypatch.setattr(precision, "fast_bf16", lambda device: fast)


@pytest.mark.parametrize("family", ["dream", "llada"])
def test_float32_asked_for_is_float32_where_auto_would_pick_bf16(family, folders, monkeypatch):
    """load(folder, dtype="float32") on a machine whose "auto" is bf16 (an AVX512-BF16 CPU,
    say): float32 weights and logits within 1e-4 of transformers' float32 ones, while
    "auto" there loads bf16 and says why."""
    _pretend_fast_bf16(monkeypatch, True)
    exact = load(folders[family], dtype="float32")
    assert {p.dtype for p in exact.model.parameters()} == {torch.float32}
    assert exact.facts.dtype == "float32" and exact.facts.dtype_reason == "asked for"
    torch.manual_seed(0)
    ids = torch.randint(0, exact.tokenizer.vocab_size, (2, 23))
    expected = _reference_logits(folders[family], ids)
    assert (exact.logits(ids) - expected).abs().max() < 1e-4

    auto = load(folders[family])
    assert {p.dtype for p in auto.model.parameters()} == {torch.bfloat16}
    assert auto.facts.dtype == auto.facts.precision["dtype"] == "bfloat16"
    assert auto.facts.dtype_reason.startswith("auto: ")
    # bf16 is what made the logits differ: far more than float32's rounding
    assert (auto.logits(ids) - expected).abs().max() > 1e-3


def test_auto_is_float32_where_bf16_is_slow_and_the_weights_agree(folders, monkeypatch):
    """The weights are cast by the same decision the facts state: where bf16 is slow,
    "auto" loads float32 (also on this machine, whatever its CPU), and the facts say so."""
    _pretend_fast_bf16(monkeypatch, False)
    inf = load(folders["dream"])
    assert {p.dtype for p in inf.model.parameters()} == {torch.float32}
    assert inf.facts.dtype == inf.facts.precision["dtype"] == "float32"
    assert (
        inf.facts.dtype_reason
        == "auto: no fast bf16 on this CPU, which has neither AMX nor AVX512-BF16"
    )


def test_float32_ignores_an_ambient_autocast(folders, infillers):
    """A caller's bf16 autocast (a training loop's, an evaluation's) does not reach a model
    asked to run in float32: its matrix products stay float32."""
    inf = infillers["dream"]
    torch.manual_seed(0)
    ids = torch.randint(0, inf.tokenizer.vocab_size, (2, 23))
    expected = _reference_logits(folders["dream"], ids)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = inf.logits(ids)
        row = hf_infiller._Row(0, ids[0].tolist(), 3, 5)
        fn, canvas, _ = inf._canvas_logits_fn([row])
        slots = fn(canvas)
    assert (got - expected).abs().max() < 1e-4
    assert slots.dtype == torch.float32
    assert (slots[0].float() - expected[0, 3:8]).abs().max() < 1e-4


def test_bf16_weights_and_config_load_as_float32_when_asked(tmp_path):
    """A published checkpoint stores bf16 tensors and says `torch_dtype: bfloat16` in its
    config.json; neither overrides a float32 request (the weights are widened exactly)."""
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    assert json.loads((folder / "config.json").read_text())["torch_dtype"] == "bfloat16"
    path = folder / "model.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.to(torch.bfloat16) for k, v in load_file(str(path)).items()}, str(path))
    inf = load(folder, dtype="float32")
    assert {p.dtype for p in inf.model.parameters()} == {torch.float32}
    torch.manual_seed(0)
    ids = torch.randint(0, inf.tokenizer.vocab_size, (2, 23))
    assert (inf.logits(ids) - _reference_logits(folder, ids)).abs().max() < 1e-4


def test_open_checkpoints_refuse_int8_with_the_reason(folders):
    with pytest.raises(ValueError, match=r"int8.*diffill's own models"):
        load(folders["dream"], dtype="int8")


def test_info_says_which_precision_was_picked_and_why(folders, monkeypatch, capsys):
    from diffill.server.cli import main

    folder = str(folders["dream"])
    _pretend_fast_bf16(monkeypatch, True)
    monkeypatch.setattr(
        precision, "instruction_sets", lambda: {"avx512_bf16": True, "amx_bf16": False}
    )
    assert main(["info", "--model", folder]) == 0
    assert "\ndtype        bfloat16 (auto: this CPU has AVX512-BF16)\n" in capsys.readouterr().out
    assert main(["info", "--model", folder, "--dtype", "float32"]) == 0
    assert "\ndtype        float32 (asked for)\n" in capsys.readouterr().out
    assert main(["info", "--model", folder, "--dtype", "float32", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert (facts["dtype"], facts["dtype_reason"]) == ("float32", "asked for")
    assert facts["precision"] == {"requested": "float32", "dtype": "float32", "reason": "asked for"}
    _pretend_fast_bf16(monkeypatch, False)
    assert main(["info", "--model", folder, "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["dtype"] == "float32"
    assert facts["dtype_reason"] == (
        "auto: no fast bf16 on this CPU, which has neither AMX nor AVX512-BF16"
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_padding_rows_match_unpadded_ones(family, infillers):
    inf = infillers[family]
    torch.manual_seed(1)
    a = torch.randint(0, inf.tokenizer.vocab_size, (1, 9))
    b = torch.randint(0, inf.tokenizer.vocab_size, (1, 14))
    batch = torch.full((2, 14), inf.tokenizer.pad_id)
    batch[0, :9], batch[1] = a[0], b[0]
    valid = batch != -1
    valid[0, 9:] = False
    got = inf.logits(batch, valid)
    torch.testing.assert_close(got[0, :9], inf.logits(a)[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[1], inf.logits(b)[0], atol=1e-5, rtol=1e-5)


def test_families_and_ids_are_read_from_the_folder(infillers):
    by_name = {t: i for i, t in enumerate(DREAM_SPECIALS)}
    dream = infillers["dream"]
    base = dream.tokenizer.vocab_size - len(DREAM_SPECIALS)
    assert dream.family.name == "Dream" and dream.family.shifted
    assert dream.tokenizer.mask_id == base + by_name["<|mask|>"]
    assert dream.tokenizer.bos_id == base + by_name["<|beginoftext|>"]  # the tokenizer's bos
    assert dream.tokenizer.eos_id == dream.tokenizer.pad_id == base + by_name["<|endoftext|>"]

    diffucoder = infillers["diffucoder"]  # its tokenizer pads with <|dlm_pad|>
    assert diffucoder.tokenizer.pad_id == diffucoder.tokenizer.vocab_size - 1
    assert diffucoder.tokenizer.slack_ids == {diffucoder.tokenizer.pad_id, base}

    open_dcoder = infillers["open-dcoder"]  # qwen2 + a tokenizer mask token
    assert open_dcoder.family.name == "Qwen2 MDM" and open_dcoder.family.shifted
    assert open_dcoder.tokenizer.bos_id is None
    assert open_dcoder.facts.checkpoint["special_ids"]["read_from"]["mask"] == "tokenizer"
    assert open_dcoder.model.cfg.tie_embeddings

    llada = infillers["llada"]
    assert llada.family.name == "LLaDA" and not llada.family.shifted
    t = llada.tokenizer
    assert t.mask_id == t._tok.token_to_id("<|mdm_mask|>")
    assert t.bos_id == t._tok.token_to_id("<|startoftext|>")
    assert llada.model.cfg.rope_theta == 500000.0
    assert infillers["dream"].model.cfg.rope_theta == 12345.0


def test_tokenizer_matches_transformers_qwen2(folders, infillers):
    transformers = pytest.importorskip("transformers")
    folder = folders["dream"]
    if int(transformers.__version__.split(".")[0]) >= 5:
        merges = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
        ref = transformers.Qwen2Tokenizer(
            vocab=json.loads((folder / "vocab.json").read_text(encoding="utf-8")),
            merges=[tuple(m.split(" ")) for m in merges if m and not m.startswith("#version")],
        )
    else:
        ref = transformers.Qwen2TokenizerFast(
            vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt")
        )
    tok = infillers["dream"].tokenizer
    texts = [
        "def f(x):\n    return x ** 2  # square\n",
        "  \tmixed   spaces\r\n\n\nand 'quotes' don't\n",
        "unicode: café, naïve, 数字 123456, emoji 🎉\n",
    ]
    for text in texts:
        assert tok.encode(text) == ref.encode(text, add_special_tokens=False)
        assert tok.decode(tok.encode(text)) == text


def test_control_tokens_in_text_stay_text(infillers):
    t = infillers["dream"].tokenizer
    ids = t.encode("x = '<|mask|><|endoftext|>'")
    assert t.mask_id not in ids and t.eos_id not in ids
    assert t.decode(ids) == "x = '<|mask|><|endoftext|>'"


@pytest.mark.parametrize("family", FAMILIES)
def test_infill_runs_end_to_end(family, infillers):
    inf = infillers[family]
    t = inf.tokenizer
    steps: list[int] = []
    r = inf.infill(PREFIX, SUFFIX, on_step=lambda text, s: steps.append(s.masked))
    assert r.steps >= 1 and steps == sorted(steps, reverse=True) and steps[-1] == 0
    assert len(r.candidates) >= 1 and r.length in r.candidates
    assert r.length <= inf.max_span_tokens
    assert not set(r.tokens) & (t.special_ids | t.slack_ids)  # no control or slack tokens
    assert r.text == t.decode(r.tokens)
    # the same inputs and seed give the same output; another seed samples differently
    again = inf.infill(PREFIX, SUFFIX)
    assert (again.text, again.tokens) == (r.text, r.tokens)
    hot = [inf.infill(PREFIX, SUFFIX, length=12, temperature=1.0, seed=s).tokens for s in (1, 2)]
    assert hot[0] != hot[1]


@pytest.mark.parametrize("family", ["dream", "llada"])
def test_fixed_length_and_step_budget(family, infillers):
    inf = infillers[family]
    r = inf.infill(PREFIX, SUFFIX, length=10, steps=5)
    assert r.steps == 5 and r.length == 10 and r.candidates == [10]
    one = inf.infill(PREFIX, SUFFIX, length=6, steps=6)
    assert one.steps == 6
    fast = inf.infill(PREFIX, SUFFIX, length=20, threshold=0.5, max_steps=3)
    assert fast.steps <= 3


def test_prompt_layout_per_family(infillers):
    dream, open_dcoder, llada = infillers["dream"], infillers["open-dcoder"], infillers["llada"]
    pre, suf = dream._context("a = 1\n", "b = 2\n")
    t = dream.tokenizer
    assert pre == [t.bos_id, *t.encode("a = 1\n")] and suf == [*t.encode("b = 2\n"), t.eos_id]
    pre, suf = open_dcoder._context("a = 1\n", "b = 2\n")
    t = open_dcoder.tokenizer
    assert pre == t.encode("a = 1\n") and suf == t.encode("b = 2\n")
    pre, suf = llada._context("a = 1\n", "b = 2\n")
    t = llada.tokenizer
    assert pre[0] == t.bos_id and suf[-1] == t.eos_id
    # over budget: the tokens nearest the gap stay, and no sentinel claims a file edge
    long = "x = 1\n" * 2000
    pre, suf = dream._context(long, long)
    assert len(pre) + len(suf) == dream.max_context_tokens
    assert dream.tokenizer.bos_id not in pre and dream.tokenizer.eos_id not in suf


def test_given_tokens_never_change(infillers):
    inf = infillers["dream"]
    t = inf.tokenizer
    middle = "total = a + b + c"
    orig = t.encode(middle)
    touched = inf.infill(PREFIX, SUFFIX, middle=middle, strength=0.3)
    assert sum(1 for x in orig if x in touched.tokens) >= len(orig) * 0.6
    # remask only the last characters: the tokens before them are given and stay
    repaired = inf.infill(PREFIX, SUFFIX, middle=middle, repair=[(len(middle) - 4, len(middle))])
    ids, spans = t.encode_with_offsets(middle)
    untouched = [x for x, (a, b) in zip(ids, spans) if b < len(middle) - 6]
    assert repaired.tokens[: len(untouched) - 1] == untouched[:-1]


def test_batch_accept_and_cancel(infillers):
    inf = infillers["llada"]
    reqs = [InfillRequest(PREFIX, SUFFIX), InfillRequest("x = ", "\n", length=5)]
    out = inf.infill_batch(reqs, accept=lambda text: True)
    assert len(out) == 2 and out[1].length == 5
    assert inf.infill_batch([]) == []
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        inf.infill(PREFIX, SUFFIX, length=4, cancel=stop)
    with pytest.raises(ValueError, match="unknown sampler option"):
        inf.infill(PREFIX, SUFFIX, bogus=1)


def test_length_distribution_is_a_distribution(infillers):
    p = infillers["dream"].length_distribution(PREFIX, SUFFIX)
    assert p.shape == (infillers["dream"].max_span_tokens + 1,)
    assert abs(float(p.sum()) - 1) < 1e-4 and float(p.min()) >= 0


def test_the_model_chooses_short_spans_when_it_predicts_slack(tmp_path):
    """A model that writes end-of-text at every slot asks for the shortest canvas, and the
    slack is dropped from the result."""
    inf = load(dream_folder(tmp_path / "m", "dream", shards=1))
    eos = inf.tokenizer.eos_id
    with torch.no_grad():
        inf.model.embed.weight.zero_()  # every position now has the same hidden state
        h = inf.model.hidden(torch.zeros(1, 3, dtype=torch.long))[0, 0]
        inf.model.head.weight.zero_()
        inf.model.head.weight[eos] = h * (50 / h.pow(2).sum())  # eos logit 50, the rest 0
    probs = inf.length_distribution(PREFIX, SUFFIX)
    assert int(probs.argmax()) == 0
    r = inf.infill(PREFIX, SUFFIX)
    assert r.candidates == [1] and r.text == "" and r.tokens == []


def test_a_small_window_caps_the_span_instead_of_refusing_the_folder(tmp_path):
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    _edit_json(folder / "config.json", max_position_embeddings=256)
    inf = load(folder)
    assert inf.max_span_tokens == 128
    assert inf.infill(PREFIX, SUFFIX).tokens is not None


def test_cli_fill_with_an_open_checkpoint(tmp_path, capsys):
    from diffill.server.cli import main

    # A Dream-format checkpoint whose final norm is zero: every logit is 0, so greedy
    # decoding writes the lowest allowed id everywhere, which this tokenizer makes "0".
    folder = dream_folder(tmp_path / "dream0", "dream", zero_first="0", zero_norm=True)
    src = tmp_path / "shapes.py"
    src.write_text("def area(r):\n    pass\n\n\nprint(area(2))\n")
    code = main(["fill", str(src), "--line", "2", "--model", str(folder), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "changed", out
    assert code == 0
    assert set(out["replacement"].strip()) == {"0"}
    assert src.read_text().endswith("pass\n\n\nprint(area(2))\n")  # a dry run writes nothing
    assert main(["info", "--model", str(folder), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["parameters"] > 0 and facts["config"]["rope_theta"] == 12345.0


# -- bad folders ----------------------------------------------------------------------


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(json.dumps(data))


def test_unknown_model_type_is_refused(tmp_path):
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    _edit_json(folder / "config.json", model_type="bert", architectures=["BertForMaskedLM"])
    with pytest.raises(CheckpointError, match=r"model_type 'bert'.*supported"):
        load(folder)


def test_autoregressive_qwen2_is_refused(tmp_path):
    folder = dream_folder(tmp_path / "m", "open-dcoder", shards=1)
    _edit_json(folder / "tokenizer_config.json", mask_token=None)
    with pytest.raises(CheckpointError, match=r"no mask token.*autoregressive"):
        load(folder)


def test_missing_mask_token_is_refused(tmp_path):
    folder = llada_folder(tmp_path / "m", shards=1)
    _edit_json(folder / "config.json", mask_token_id=None)
    with pytest.raises(CheckpointError, match="no mask token"):
        load(folder)


def test_disagreeing_mask_ids_are_refused(tmp_path):
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    _edit_json(folder / "config.json", mask_token_id=3)
    with pytest.raises(CheckpointError, match="disagree"):
        load(folder)


def test_missing_tokenizer_files_are_refused(tmp_path):
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    (folder / "merges.txt").unlink()
    with pytest.raises(CheckpointError, match=r"no tokenizer.*tokenizer.json"):
        load(folder)


def test_missing_and_truncated_shards_are_refused(tmp_path):
    folder = dream_folder(tmp_path / "m", "dream", shards=2)
    shard = folder / "model-00002-of-00002.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model-00002-of-00002"):
        load(folder)
    shard.unlink()
    with pytest.raises(CheckpointError, match=r"lacks weight shard.*00002"):
        load(folder)


def test_missing_tensor_is_refused(tmp_path):
    folder = llada_folder(tmp_path / "m", shards=1)
    state = load_file(str(folder / "model.safetensors"))
    del state["model.transformer.blocks.1.up_proj.weight"]
    from safetensors.torch import save_file

    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"lack 1 tensor.*blocks.1.up_proj"):
        load(folder)


def test_unsupported_architecture_options_are_refused(tmp_path):
    folder = llada_folder(tmp_path / "m", shards=1)
    _edit_json(folder / "config.json", alibi=True)
    with pytest.raises(CheckpointError, match="alibi=True is not supported"):
        load(folder)


def test_too_large_for_memory_fails_before_loading(tmp_path, monkeypatch):
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    monkeypatch.setattr(hf_checkpoint, "available_memory", lambda device: 100 * 1024**2)
    with pytest.raises(ModelTooLarge, match=r"needs about 1\.0 GiB on cpu .* 0\.1 GiB is free"):
        load(folder)
    with pytest.raises(ModelTooLarge, match=r"needs about 16\.4 GiB on cpu \(14\.0 GiB of weights"):
        hf_checkpoint.check_fits(folder, 14 * 1024**3, torch.bfloat16, torch.device("cpu"))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # transformers reading config.json
def test_other_slow_tokenizers_are_converted_by_transformers(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    folder = dream_folder(tmp_path / "m", "dream", shards=1)
    _edit_json(folder / "tokenizer_config.json", tokenizer_class="GPT2Tokenizer")
    inf = hf_infiller.load(folder, dtype="float32", max_span_tokens=8)
    assert (
        inf.tokenizer.mask_id == json.loads((folder / "config.json").read_text())["mask_token_id"]
    )
    text = "def f(x):\n    return x + 1\n"
    assert inf.tokenizer.decode(inf.tokenizer.encode(text)) == text
    # without transformers the folder is refused with the way out
    monkeypatch.setitem(__import__("sys").modules, "transformers", None)
    with pytest.raises(CheckpointError, match=r"diffill\[hf\]"):
        load(folder)


@pytest.mark.parametrize("family", FAMILIES)
def test_canvas_logits_are_the_sequence_logits(family, infillers):
    """What the sampler sees for each canvas slot is `logits()` of the whole sequence at
    that slot, also when the canvas starts the sequence (Open-dCoder has no bos)."""
    inf = infillers[family]
    for prefix in ("", PREFIX):
        pre, suf = inf._context(prefix, SUFFIX)
        row = hf_infiller._Row(0, [*pre, *[inf.tokenizer.mask_id] * 5, *suf], len(pre), 5)
        fn, canvas, _ = inf._canvas_logits_fn([row])
        expected = inf.logits(torch.tensor([row.tokens]))[0, len(pre) : len(pre) + 5]
        torch.testing.assert_close(fn(canvas)[0].float(), expected, atol=1e-5, rtol=1e-5)


def _bf16_run(folder: Path, reference: HFInfiller, device: str) -> None:
    inf = hf_infiller.load(folder, device=device, dtype="bfloat16", max_span_tokens=16)
    assert next(inf.model.parameters()).dtype == torch.bfloat16
    torch.manual_seed(3)
    ids = torch.randint(0, inf.tokenizer.vocab_size, (2, 30))
    got, want = inf.logits(ids).cpu(), reference.logits(ids)
    assert got.dtype == torch.float32
    # bf16 keeps about 3 significant digits, and random weights amplify the rounding
    scale, err = want.abs().max(), (got - want).abs()
    assert err.mean() < 0.02 * scale and err.max() < 0.15 * scale
    r = inf.infill(PREFIX, SUFFIX)
    assert r.steps >= 1 and not set(r.tokens) & inf.tokenizer.special_ids


@pytest.mark.parametrize("family", ["dream", "llada"])
def test_bfloat16_weights_track_float32(family, folders, infillers):
    _bf16_run(folders[family], infillers[family], "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", FAMILIES)
def test_cuda_auto_loads_bf16_and_infills(family, folders, infillers):
    inf = load(folders[family], device="auto")
    assert inf.device.type == "cuda"
    assert next(inf.model.parameters()).dtype == torch.bfloat16
    _bf16_run(folders[family], infillers[family], "cuda")
