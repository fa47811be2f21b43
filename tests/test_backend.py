"""The contract every backend keeps (`diffill.model.Backend`): `load` picks the backend from
the folder, each states its facts, honours the context budget it was loaded with, and the
autoregressive peer answers with an `InfillResult` like the others."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from diffill.model import (
    DEFAULT_MODEL,
    Backend,
    Cancelled,
    InfillError,
    InfillRequest,
    InfillResult,
    ModelFacts,
    checkpoint,
    load,
)
from diffill.model.backends.autoregressive import ARInfiller, sentinels
from diffill.model.checkpoint import Checkpoint

from .conftest import tiny_model
from .open_checkpoints import dream_folder

PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"
LONG = "x = 1\n" * 2000


@pytest.fixture(scope="module")
def folders(tmp_path_factory, tokenizer) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("backends")
    mdlm = tiny_model(tokenizer.vocab_size, seed=1, span_positions=48)
    checkpoint.save(root / "mdlm", mdlm, tokenizer, info={"steps": 7}, dtype=torch.float32)
    ar = tiny_model(tokenizer.vocab_size, seed=2, causal=True)
    checkpoint.save(root / "ar", ar, tokenizer, info={"steps": 3}, dtype=torch.float32)
    return {
        "default": DEFAULT_MODEL,
        "mdlm": root / "mdlm",
        "ar": root / "ar",
        "open": dream_folder(root / "dream", "dream", shards=1),
    }


FAMILIES = {
    "default": checkpoint.read_config(DEFAULT_MODEL)["model_type"],  # whichever ships
    "mdlm": "diffill-mdlm",
    "ar": "diffill-fim-ar",
    "open": "dream",
}


@pytest.mark.parametrize("kind", sorted(FAMILIES))
def test_load_returns_a_backend_for_every_kind_of_folder(kind, folders):
    backend = load(None if kind == "default" else folders[kind], dtype="float32")
    assert isinstance(backend, Backend)
    facts = backend.facts
    assert isinstance(facts, ModelFacts) and facts.family == FAMILIES[kind]
    assert facts.name == ("default" if kind == "default" else str(folders[kind]))
    assert facts.folder == folders[kind]
    r = backend.infill(PREFIX, SUFFIX, length=3)
    assert isinstance(r, InfillResult) and len(r.tokens) <= 3
    assert 0 < r.context_tokens == r.context_computed
    assert backend.count_tokens("def add(a, b):") > 0
    ids = torch.randint(0, 200, (2, 7))
    assert backend.logits(ids).shape[:2] == (2, 7)


def test_model_facts_of_a_diffill_folder(folders):
    backend = load(folders["mdlm"], dtype="float32")
    net = tiny_model(backend.facts.config["vocab_size"], span_positions=48)
    f = backend.facts
    assert f.parameters == net.num_parameters()
    assert f.dtype == "float32" and f.weight_bytes == 4 * f.parameters
    assert f.config == net.cfg.to_dict()
    assert f.training == {"steps": 7} and f.checkpoint == {}
    assert f.device == "cpu" and "threads" in f.hardware
    bf16 = load(folders["mdlm"], dtype="bfloat16").facts
    assert bf16.dtype == "bfloat16" and bf16.weight_bytes == 2 * f.parameters


def test_load_bounds_the_contexts_the_shipped_kind_keeps(folders):
    two = load(folders["mdlm"], dtype="float32", context_cache_entries=2)
    for p in ("a = ", "b = ", "c = "):
        two.infill(p, "\n", length=2, steps=1)
    assert two.infill("c = ", "\n", length=2, steps=1).context_computed == 0
    assert two.infill("a = ", "\n", length=2, steps=1).context_computed > 0  # the oldest went


def test_model_facts_of_the_peer_and_an_open_checkpoint(folders):
    peer = load(folders["ar"], dtype="float32").facts
    assert peer.training == {"steps": 3} and peer.config["causal"] is True
    open_ = load(folders["open"], dtype="float32").facts
    assert open_.training == {} and open_.checkpoint["family"] == "Dream"
    assert open_.config["rope_theta"] == 12345.0
    assert open_.weight_bytes == open_.checkpoint["weights_bytes"]


@pytest.mark.parametrize("kind", ["mdlm", "ar", "open"])
def test_load_honours_the_context_budget(kind, folders):
    backend = load(folders[kind], dtype="float32", max_context_tokens=40)
    assert backend.max_context_tokens == 40
    r = backend.infill(LONG, LONG, length=2)
    # Both sides cut: no file sentinels; the peer adds its SUFFIX and MIDDLE tokens.
    assert r.context_tokens == 40 + (2 if kind == "ar" else 0)
    with pytest.raises(AttributeError):
        backend.max_context_tokens = 10
    assert load(folders[kind], dtype="float32").max_context_tokens > 40


def test_context_budget_is_checked(folders):
    with pytest.raises(InfillError, match="does not fit the model's window"):
        load(folders["open"], max_context_tokens=100_000)
    with pytest.raises(InfillError, match="positive"):
        load(folders["mdlm"], max_context_tokens=0)


@pytest.fixture(scope="module")
def peer(tokenizer) -> ARInfiller:
    return ARInfiller(Checkpoint(tiny_model(tokenizer.vocab_size, seed=4, causal=True), tokenizer))


def test_peer_answers_with_an_infill_result(peer, tokenizer):
    steps = []
    r = peer.infill(PREFIX, SUFFIX, length=6, on_step=lambda text, s: steps.append((text, s)))
    assert isinstance(r, InfillResult)
    assert r.length == len(r.tokens) == len(r.token_confidence) <= 6
    assert r.candidates == [r.length] and r.text == tokenizer.decode(r.tokens)
    assert all(0 < c <= 1 for c in r.token_confidence)
    assert r.confidence == pytest.approx(sum(r.token_confidence) / len(r.token_confidence))
    assert r.steps in (r.length - 1, r.length)  # the prompt's call writes the first token
    assert r.context_tokens == r.context_computed == len(peer.prompt(PREFIX, SUFFIX))
    assert [s.index for _, s in steps] == list(range(1, r.length + 1))
    assert steps[-1][0] == r.text
    held = peer.infill(PREFIX, SUFFIX, length=6, min_new_tokens=6)
    assert held.length == 6


def test_peer_batches_pairs_and_requests_like_single_calls(peer):
    pairs = [("a = ", "\n"), (PREFIX, SUFFIX)]
    singles = [peer.infill(p, s, length=5).tokens for p, s in pairs]
    assert [r.tokens for r in peer.infill_batch(pairs, length=5)] == singles
    requests = [InfillRequest(p, s, length=5) for p, s in pairs]
    assert [r.tokens for r in peer.infill_batch(requests)] == singles
    assert peer.infill_batch([]) == []


def test_peer_refuses_what_it_cannot_do(peer):
    with pytest.raises(InfillError, match="touch up or repair"):
        peer.infill("a = ", "\n", middle="b + c", strength=0.5)
    with pytest.raises(InfillError, match="touch up or repair"):
        peer.infill("a = ", "\n", middle="b + c", repair=[(0, 1)])
    with pytest.raises(InfillError, match="greedily"):
        peer.infill("a = ", "\n", temperature=0.7)
    with pytest.raises(InfillError, match="length"):
        peer.infill("a = ", "\n", length=peer.max_span_tokens + 1)
    with pytest.raises(ValueError, match="unknown sampler option"):
        peer.infill("a = ", "\n", temprature=1.0)
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        peer.infill("a = ", "\n", cancel=stop)
    # A full rewrite is a fresh middle; the canvas options have nothing to act on.
    assert peer.infill("a = ", "\n", middle="b", length=3, threshold=0.5).length <= 3
    assert peer.length_distribution("a = ", "\n") is None


def test_peer_logits_predict_in_place_and_never_look_ahead(peer):
    ids = torch.randint(10, 200, (1, 9))
    other = ids.clone()
    other[0, 5:] = 7
    a, b = peer.logits(ids), peer.logits(other)
    assert a.shape == (1, 9, peer.facts.config["vocab_size"]) and a.dtype == torch.float32
    # position i predicts token i from tokens before it: changing token 5 changes 6 on
    torch.testing.assert_close(a[0, :6], b[0, :6])
    assert not torch.allclose(a[0, 6:], b[0, 6:], atol=1e-4)
    _, _, end = sentinels(peer.tokenizer)
    assert end == peer.end_id
