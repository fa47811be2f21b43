"""The block-diffusion model (v2) on a tiny random network: the context cache is exact,
blocks respect causality, inference attends as training does, decoding invariants hold."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from diffill.model import DEFAULT_MODEL, fim
from diffill.model import blockdiff_objective as bdo
from diffill.model.blockdiff import CHUNK, BlockInfiller, ContextCache
from diffill.model.network import DiffusionLM, config_for_size
from diffill.model.tokenizer import CodeTokenizer

SHIPPED_TOKENIZER = DEFAULT_MODEL / "tokenizer.json"

PREFIX = (
    "def area(radius):\n    return 3.14 * radius ** 2\n\n" * 12 + "def perimeter(r):\n    return "
)
SUFFIX = "\n\n\nprint(perimeter(2.0))\n"


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return CodeTokenizer.from_file(SHIPPED_TOKENIZER).with_fim_tokens()


@pytest.fixture(scope="module")
def model(tok) -> DiffusionLM:
    torch.manual_seed(0)
    cfg = dataclasses.replace(config_for_size("tiny", tok.vocab_size), length_head=False)
    return DiffusionLM(cfg).eval()


def make(model, tok, **kw) -> BlockInfiller:
    kw = {
        "block_size": 8,
        "fim_order": "spm",
        "max_context_tokens": 512,
        "max_span_tokens": 40,
        **kw,
    }
    return BlockInfiller(model, tok, **kw)


def test_fim_tokens_are_appended_and_never_come_from_text(tok):
    base = CodeTokenizer.from_file(SHIPPED_TOKENIZER)
    assert tok.vocab_size == base.vocab_size + 2
    assert {tok.suf_id, tok.pre_id} == {base.vocab_size, base.vocab_size + 1}
    assert tok.encode("x <suf> <pre>") == base.encode("x <suf> <pre>")


def test_one_typed_character_reencodes_little_and_matches_a_fresh_model(model, tok):
    warm = make(model, tok)
    first = warm.infill(PREFIX, SUFFIX, seed=3)
    assert first.context_computed == first.context_tokens
    typed = warm.infill(PREFIX + "2", SUFFIX, seed=3)
    assert typed.context_tokens >= first.context_tokens
    assert typed.context_computed <= CHUNK + 4
    fresh = make(model, tok).infill(PREFIX + "2", SUFFIX, seed=3)
    assert fresh.context_computed == fresh.context_tokens
    assert (typed.tokens, typed.token_confidence) == (fresh.tokens, fresh.token_confidence)


def test_the_cache_keeps_several_contexts_and_evicts_the_oldest(model, tok):
    inf = make(model, tok, cache_entries=2)
    a = inf.infill(PREFIX, SUFFIX)
    b = inf.infill("import os\n" * 80 + "x = ", "\n")
    assert inf.infill(PREFIX, SUFFIX).context_computed == 0 or a.context_tokens % CHUNK
    inf.infill("import sys\n" * 80 + "y = ", "\n")  # evicts the least recently used (b)
    again = inf.infill("import os\n" * 80 + "x = ", "\n")
    assert again.context_computed == b.context_tokens


def test_context_keys_depend_only_on_earlier_tokens(model, tok):
    cache = ContextCache(model, 300, 2, torch.float32, "cpu")
    ids = tok.encode("def f(x):\n    return x + 1\n" * 20)[:150]
    assert len(ids) == 150
    e, _ = cache.encode(ids)
    k_before = e.buffer.k[-1][0, :, :100].clone()
    changed = ids[:100] + [(t + 7) % 8000 for t in ids[100:]]
    cache2 = ContextCache(model, 300, 1, torch.float32, "cpu")
    e2, _ = cache2.encode(changed)
    assert torch.equal(e2.buffer.k[-1][0, :, :100], k_before)
    assert not torch.equal(e2.buffer.k[-1][0, :, 100:150], e.buffer.k[-1][0, :, 100:150])


def test_a_block_at_inference_attends_as_the_training_mask_says(model, tok):
    """The decoding step (cached context, no mask) equals the dense training pass of the
    same sequence with `BlockBatch.attention_mask` (clean stream causal, group after)."""
    inf = make(model, tok)
    ctx = inf.context(PREFIX, SUFFIX)
    n, B = len(ctx), 8
    block = [tok.mask_id] * 3 + [100, 200] + [tok.mask_id] * 3
    cache = ContextCache(model, 400, 1, torch.float32, "cpu")
    entry, _ = cache.encode(ctx)
    with torch.no_grad():
        tokens = torch.tensor([[ctx[-1], *block]])
        h_step, _ = model.hidden(tokens, torch.arange(n - 1, n + B)[None], None, entry.buffer, n)
        T = n + B + 1
        batch = bdo.BlockBatch(
            inputs=torch.tensor([ctx + [ctx[-1], *block]]),
            positions=torch.tensor([list(range(n)) + list(range(n - 1, n + B))]),
            limit=torch.tensor([list(range(1, n + 1)) + [n] * (B + 1)]),
            group=torch.tensor([[0] * n + [1] * (B + 1)]),
            ar_target=torch.full((1, T), bdo.IGNORE),
            diff_target=torch.full((1, T), bdo.IGNORE),
            in_middle=torch.zeros(1, T, dtype=torch.bool),
            has_groups=True,
        )
        h_dense, _ = model.hidden(batch.inputs, batch.positions, batch.attention_mask())
    assert torch.allclose(h_dense[0, n:], h_step[0], atol=1e-5)


def test_the_mask_count_falls_every_step_and_given_tokens_never_change(model, tok):
    inf = make(model, tok)
    middle = "return 2 * 3.14 * r"
    seen: list[tuple[str, int]] = []
    r = inf.infill(
        PREFIX,
        SUFFIX,
        middle=middle,
        strength=0.5,
        on_step=lambda text, s: seen.append((text, s.masked)),
    )
    per_block: list[int] = []
    for _, masked in seen:
        per_block.append(masked)
    assert seen, "touch-up runs at least one step"
    falls = [b < a for a, b in zip(per_block, per_block[1:]) if b != 0 and a != 0]
    assert all(falls)
    orig = tok.encode(middle)
    canvas = inf._touch_up(middle, 0.5, 0)
    kept = [(k, x) for k, x in enumerate(canvas[: len(orig)]) if x != tok.mask_id]
    assert kept and all(r.tokens[k] == x for k, x in kept if k < len(r.tokens))


def test_greedy_decoding_is_deterministic_and_a_fixed_length_is_honoured(model, tok):
    a = make(model, tok).infill(PREFIX, SUFFIX)
    b = make(model, tok).infill(PREFIX, SUFFIX)
    assert a.tokens == b.tokens
    fixed = make(model, tok).infill(PREFIX, SUFFIX, length=13)
    assert len(fixed.tokens) == 13
    sampled = [
        make(model, tok).infill(PREFIX, SUFFIX, temperature=1.0, seed=s).tokens for s in (1, 1)
    ]
    assert sampled[0] == sampled[1]


def test_examples_put_every_block_token_under_loss_exactly_once(tok):
    rng = random.Random(0)
    text = "def f(x):\n    y = x * 2\n    return y + 1\n\nprint(f(3))\n"
    a = text.index("y = ")
    ex = bdo.block_example(
        tok,
        text,
        (a, a + 9),
        rng,
        objective="block-mixed",
        block_size=4,
        order="spm",
        max_tokens=256,
        at_file_start=True,
        at_file_end=True,
        extra_block_share=0.0,
    )
    assert ex is not None
    mid = tok.encode(text[a : a + 9])
    n_blocks = -(-(len(mid) + 1) // 4)
    targets = [t for t, g in zip(ex.diff_target, ex.group) if g > 0 and t != bdo.IGNORE]
    assert len(targets) == n_blocks * 4  # each middle slot once, over two complementary groups
    clean = ex.tokens[: ex.n_clean]
    assert clean[-n_blocks * 4 :][: len(mid)] == mid
    ids = bdo.fim_tokens(tok)
    assert (
        clean[0] == ids.suf and ids.pre in clean and clean[ex.n_clean - n_blocks * 4 - 1] == ids.mid
    )


def test_trimming_is_stable_as_the_prefix_grows():
    suffix = list(range(1000, 1400))
    cuts = set()
    for n in range(600, 700):
        t = fim.trim(list(range(n)), suffix, 512, quantum=64)
        assert len(t.prefix) + len(t.suffix) <= 512
        assert t.prefix[-1] == n - 1 and t.suffix[0] == 1000
        cuts.add((t.prefix[0], len(t.suffix)))
    assert len(cuts) <= 3  # the window's edges move in steps, not with every token
