"""The block-diffusion model (v2) on a tiny random network: the context cache is exact,
blocks respect causality, inference attends as training does, decoding invariants hold."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from diffill.model import DEFAULT_MODEL, Backend, Cancelled, checkpoint, evaluation, fim, load
from diffill.model.backends.blockdiff import CHUNK, BlockInfiller, ContextCache
from diffill.model.backends.transformer import DiffusionLM, config_for_size
from diffill.model.checkpoint import Checkpoint
from diffill.model.requests import touch_up_canvas
from diffill.model.tokenizer import CodeTokenizer
from diffill.model.training import blockdiff as bdo
from diffill.model.training.corpus import build
from diffill.server import cli

from .conftest import CancelAfter, base_tokenizer, tiny_model

SHIPPED_TOKENIZER = DEFAULT_MODEL / "tokenizer.json"
STDLIB = Path(shutil.__file__).parent

PREFIX = (
    "def area(radius):\n    return 3.14 * radius ** 2\n\n" * 12 + "def perimeter(r):\n    return "
)
SUFFIX = "\n\n\nprint(perimeter(2.0))\n"


@pytest.fixture(scope="module")
def tok() -> CodeTokenizer:
    return base_tokenizer().with_fim_tokens()


@pytest.fixture(scope="module")
def model(tok) -> DiffusionLM:
    torch.manual_seed(0)
    cfg = dataclasses.replace(config_for_size("tiny", tok.vocab_size), length_head=False)
    return DiffusionLM(cfg).eval()


def make(model, tok, block_size=8, **kw) -> BlockInfiller:
    layout = {"block_size": block_size, "fim_order": "spm", "context_tokens": 512}
    kw = {"max_span_tokens": 40, **kw}
    return BlockInfiller(Checkpoint(model, tok, layout=layout), **kw)


def test_fim_tokens_are_appended_and_never_come_from_text(tok):
    base = base_tokenizer()
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


def test_decoding_leaves_no_autograd_graph_on_the_cached_buffers(model, tok):
    """The steps write into a buffer the cache keeps: under autograd each request's graph
    would hang on it, and memory would grow with every request."""
    assert any(p.requires_grad for p in model.parameters())
    inf = make(model, tok)
    inf.infill(PREFIX, SUFFIX, length=10)
    buffers = [t for e in inf.cache.entries for t in (*e.buffer.k, *e.buffer.v)]
    assert buffers and not any(t.requires_grad for t in buffers)


def test_a_warmed_context_is_found_encoded_and_answers_as_a_fresh_model(model, tok):
    warm = make(model, tok)
    assert warm.reuses_context
    encoded = warm.warm_context(PREFIX, SUFFIX)
    got = warm.infill(PREFIX, SUFFIX, seed=3)
    assert encoded == got.context_tokens > 2 * CHUNK
    assert got.context_computed == 0
    fresh = make(model, tok).infill(PREFIX, SUFFIX, seed=3)
    assert (got.tokens, got.token_confidence) == (fresh.tokens, fresh.token_confidence)


def test_changed_weights_make_the_cached_contexts_stale(tok):
    torch.manual_seed(5)
    cfg = dataclasses.replace(config_for_size("tiny", tok.vocab_size), length_head=False)
    net = DiffusionLM(cfg).eval()
    warm = make(net, tok)
    warm.infill(PREFIX, SUFFIX, length=6)
    with torch.no_grad():
        net.blocks[0].mlp.down.weight.mul_(3.0)  # a training step, say
    got = warm.infill(PREFIX, SUFFIX, length=6)
    assert got.context_computed == got.context_tokens
    fresh = make(net, tok).infill(PREFIX, SUFFIX, length=6)
    assert (got.tokens, got.token_confidence) == (fresh.tokens, fresh.token_confidence)


def test_a_cancelled_warm_up_keeps_the_chunks_it_encoded(model, tok):
    warm = make(model, tok)
    assert warm.warm_context(PREFIX, SUFFIX, cancel=CancelAfter(2)) == 2 * CHUNK
    got = warm.infill(PREFIX, SUFFIX, seed=3)
    assert got.context_computed == got.context_tokens - 2 * CHUNK
    fresh = make(model, tok).infill(PREFIX, SUFFIX, seed=3)
    assert got.tokens == fresh.tokens


def test_one_typed_character_in_a_1k_context_reencodes_under_a_tenth(model, tok):
    def block_model():
        layout = {"block_size": 16, "fim_order": "spm", "context_tokens": 1024}
        return BlockInfiller(Checkpoint(model, tok, layout=layout), max_span_tokens=16)

    source = (STDLIB / "textwrap.py").read_text()
    warm = block_model()
    for cut in (len(source) // 3, len(source) // 2, 2 * len(source) // 3):
        prefix, suffix = source[:cut], source[cut:]
        warm.infill(prefix, suffix, length=4, steps=2)
        typed = warm.infill(prefix + "x", suffix, length=4, steps=2)
        assert typed.context_tokens > 900  # the 1,024 budget, trimmed at line starts
        assert typed.context_computed <= typed.context_tokens // 10
        fresh = block_model().infill(prefix + "x", suffix, length=4, steps=2)
        assert fresh.context_computed == fresh.context_tokens == typed.context_tokens
        assert (typed.tokens, typed.token_confidence) == (fresh.tokens, fresh.token_confidence)


def test_the_cache_keeps_several_contexts_and_evicts_the_oldest(model, tok):
    inf = make(model, tok, cache_entries=2)
    inf.infill(PREFIX, SUFFIX)
    b = inf.infill("import os\n" * 80 + "x = ", "\n")
    assert inf.infill(PREFIX, SUFFIX).context_computed == 0  # the very context: all kept
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
            inputs=torch.tensor([[*ctx, ctx[-1], *block]]),
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
    inf = make(model, tok, block_size=32)  # the whole canvas in one block
    middle = "return 2 * 3.14 * r"
    steps: list = []
    inf.infill(PREFIX, SUFFIX, middle=middle, strength=0.5, on_step=lambda _, s: steps.append(s))
    canvas = touch_up_canvas(tok.encode(middle), 0.5, 0, tok.mask_id, inf.max_span_tokens)
    assert len(steps) >= 2
    masked = [s.masked for s in steps]
    assert masked == sorted(set(masked), reverse=True) and masked[-1] == 0
    final = steps[-1].tokens[0].tolist()
    given = [(k, x) for k, x in enumerate(canvas) if x != tok.mask_id]
    assert given and all(final[k] == x for k, x in given)
    for s in steps:  # every intermediate state keeps them too
        assert all(s.tokens[0, k] == x for k, x in given)


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
        bdo.BlockOptions("block-mixed", block_size=4, extra_block_share=0.0),
        max_tokens=256,
        at_file_start=True,
        at_file_end=True,
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


def test_compiled_training_batches_have_one_length_and_keep_the_middle(tok):
    """With a length bound (compiled training), examples never exceed it; context blocks
    are dropped before the middle's groups are."""
    text = "".join(f"value_{i} = compute({i}, scale=2)\n" for i in range(60))
    a = text.index("value_30")
    span = (a, text.index("\n", a))
    loose = bdo.BlockOptions("block-mixed", block_size=8, extra_block_share=0.5)
    tight = dataclasses.replace(loose, max_total=420)
    big = bdo.block_example(tok, text, span, random.Random(0), loose, max_tokens=360)
    small = bdo.block_example(tok, text, span, random.Random(0), tight, max_tokens=360)
    assert big is not None and small is not None
    assert len(big) > 420 >= len(small)
    middle_groups = {g for g, m in zip(small.group, small.in_middle) if g > 0 and m}
    assert len(middle_groups) == 2 * -(-(len(tok.encode(text[span[0] : span[1]])) + 1) // 8)
    batch = bdo.collate([small], tok, pad_to=420)
    assert batch.inputs.shape == (1, 420)


def test_trimming_is_stable_as_the_prefix_grows():
    suffix = list(range(1000, 1400))
    cuts = set()
    for n in range(600, 700):
        t = fim.trim(list(range(n)), suffix, 512, quantum=64)
        assert len(t.prefix) + len(t.suffix) <= 512
        assert t.prefix[-1] == n - 1 and t.suffix[0] == 1000
        cuts.add((t.prefix[0], len(t.suffix)))
    assert len(cuts) <= 3  # the window's edges move in steps, not with every token


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py"):
        shutil.copy(STDLIB / name, src / name)
    base = CodeTokenizer.from_file(SHIPPED_TOKENIZER)
    return build([src], tmp_path_factory.mktemp("corpus"), base, workers=1, log=lambda s: 0)


def _train(corpus, out, *extra: str) -> None:
    argv = ["train", "--corpus", str(corpus.folder), "--out", str(out), "--size", "tiny"]
    argv += ["--batch-size", "2", "--seq-tokens", "96", "--device", "cpu", *extra]
    assert cli.main(argv) == 0


def test_two_phases_through_the_cli_then_load_infill_and_evaluate(small_corpus, tmp_path, capsys):
    """Phase 1 (causal FIM LM), phase 2 warm-started from it (AR plus block diffusion),
    then the folder loads as a Backend that infills and evaluates."""
    _train(small_corpus, tmp_path / "ar", "--objective", "block-ar", "--steps", "3")
    _train(
        small_corpus,
        tmp_path / "bd",
        "--objective",
        "block-mixed",
        "--tokens",
        "2000",
        "--block-size",
        "8",
        "--init",
        str(tmp_path / "ar" / "model"),
    )
    # Phase 1 trained next-token prediction, so its folder decodes one token a block.
    phase1 = json.loads((tmp_path / "ar" / "model" / "config.json").read_text())
    assert phase1["layout"]["block_size"] == 1
    log = [json.loads(x) for x in (tmp_path / "bd" / "train_log.jsonl").read_text().splitlines()]
    final = log[-1]
    # The tokens behind the weights add up over the --init lineage.
    assert final["tokens_total"] == phase1["info"]["tokens_total"] + final["tokens_seen"]
    assert final["objective"] == "block-mixed" and final["tokens_seen"] >= 2000
    assert {"ar_ce", "diff_ce"} <= set(final["heldout"])
    config = json.loads((tmp_path / "bd" / "model" / "config.json").read_text())
    assert config["model_type"] == "diffill-block"
    assert config["layout"] == {"fim_order": "spm", "block_size": 8, "context_tokens": 96}
    backend = load(tmp_path / "bd" / "model", dtype="float32")
    assert isinstance(backend, Backend) and isinstance(backend, BlockInfiller)
    assert backend.facts.family == "diffill-block" and backend.max_context_tokens == 96
    r = backend.infill("def f(x):\n    return ", "\n", length=5)
    assert len(r.tokens) == 5 and r.context_computed == r.context_tokens
    tasks = tmp_path / "tasks.jsonl"
    evaluation.write_tasks(
        [evaluation.Task("t/0", "def f():\n    return ", "\n", "1", kind="single_line")], tasks
    )
    report = tmp_path / "report.json"
    args = ["eval", "--tasks", str(tasks), "--model", str(tmp_path / "bd" / "model")]
    assert cli.main([*args, "--json", str(report), "--max-context", "96"]) == 0
    rep = json.loads(report.read_text())
    assert rep["model_type"] == "diffill-block"
    assert rep["summary"]["single_line"]["length_acc_exact"] is None  # no length head
    assert rep["line_stop"] is True and rep["cut_loops"] is True  # the protocol, recorded
    assert cli.main([*args, "--json", str(report), "--no-loop-cut", "--no-line-stop"]) == 0
    rep = json.loads(report.read_text())
    assert rep["line_stop"] is False and rep["cut_loops"] is False


def test_load_bounds_the_context_cache_as_asked(model, tok, tmp_path):
    layout = {"block_size": 8, "fim_order": "spm", "context_tokens": 256}
    checkpoint.save(tmp_path / "bd", model, tok, layout=layout)
    assert load(tmp_path / "bd", dtype="float32").cache.max_entries == 4  # the default
    two = load(tmp_path / "bd", dtype="float32", context_cache_entries=2)
    for i in range(3):  # three contexts through a cache of two: the first one goes
        two.infill(f"x{i} = ", "\n", length=2, steps=1)
    assert len(two.cache.entries) == 2
    assert two.infill("x2 = ", "\n", length=2, steps=1).context_computed == 0
    assert two.infill("x0 = ", "\n", length=2, steps=1).context_computed > 0


def test_a_warm_start_copies_weights_and_grows_the_embedding(small_corpus, tmp_path, tokenizer):
    """Any diffill folder of the same size can seed a block model: the masked-diffusion
    model's weights carry over; the two new sentinel rows start at the mean embedding."""
    folder = tmp_path / "mdlm"
    net = tiny_model(tokenizer.vocab_size, span_positions=48)
    checkpoint.save(folder, net, tokenizer)
    torch.manual_seed(1)
    tok_model = DiffusionLM(
        dataclasses.replace(
            config_for_size("tiny", tokenizer.vocab_size + 2), span_positions=48, length_head=False
        )
    )
    from diffill.model.training.loop import _warm_start

    _warm_start(tok_model, str(folder), lambda _: None)
    saved = net.embed.weight.detach().to(torch.bfloat16).float()  # folders hold bf16
    assert torch.equal(tok_model.embed.weight[: saved.shape[0]].detach(), saved)
    assert torch.allclose(tok_model.embed.weight[-1].detach(), saved.mean(0), atol=1e-6)
    down = net.blocks[0].mlp.down.weight.detach().to(torch.bfloat16).float()
    assert torch.equal(tok_model.blocks[0].mlp.down.weight.detach(), down)


def test_a_repair_remasks_only_near_the_error_and_cancel_stops_between_steps(model, tok):
    inf = make(model, tok, block_size=32)
    middle = "total = price * (1 + rate"
    broken = middle.index("(")
    steps: list = []
    inf.infill(
        PREFIX,
        SUFFIX,
        middle=middle,
        repair=[(broken, len(middle))],
        on_step=lambda _, s: steps.append(s),
    )
    ids, spans = tok.encode_with_offsets(middle)
    far = [k for k, (a, b) in enumerate(spans) if b < broken - 4]
    assert far and all(steps[0].tokens[0, k] == ids[k] for k in far)  # kept as written

    class AfterTwo:
        def __init__(self) -> None:
            self.calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > 2

    with pytest.raises(Cancelled):
        make(model, tok).infill(PREFIX, SUFFIX, cancel=AfterTwo())


def test_sampling_options_reach_the_block_decoder(model, tok):
    inf = make(model, tok)
    greedy = inf.infill(PREFIX, SUFFIX, length=12)
    hot = inf.infill(PREFIX, SUFFIX, length=12, temperature=1.5, top_p=0.9, seed=7)
    assert hot.tokens != greedy.tokens and len(hot.tokens) == 12
    # Remasking doubtful tokens (self-correction) still ends the decode, through `infill`
    # (whose repair ranges are `repair`) as through `infill_batch`.
    fixed = inf.infill(PREFIX, SUFFIX, length=12, remask=0.5)
    assert len(fixed.tokens) == 12
    [batched] = inf.infill_batch([(PREFIX, SUFFIX)], length=12, remask=0.5)
    assert batched.tokens == fixed.tokens
    with pytest.raises(ValueError, match="unknown sampler option"):
        inf.infill(PREFIX, SUFFIX, temprature=1.0)


def test_blocks_of_one_token_decode_as_the_causal_lm_reads_and_leave_the_cache_exact(model, tok):
    """Block size 1 is next-token prediction: each token is the argmax of a fresh causal
    pass over the context and the tokens written so far (what `block-ar` trains), and the
    context's cached keys and values afterwards are those of a fresh encode."""
    inf = make(model, tok, block_size=1)
    got = inf.infill(PREFIX, SUFFIX, length=12)
    ctx = inf.context(PREFIX, SUFFIX)
    seq = list(ctx)
    for _ in range(12):
        h, _ = inf.model.hidden(torch.tensor([seq]), torch.arange(len(seq))[None], causal=True)
        nxt = inf.model.token_logits(h)[0, -1]  # the output at the last token: the next one
        nxt[sorted(tok.special_ids)] = float("-inf")  # under the fixed length, <end> too
        seq.append(int(nxt.argmax()))
    assert got.tokens == seq[len(ctx) :]
    assert got.steps == 12
    entry = inf.cache.entries[0]
    fresh = make(model, tok, block_size=1)
    fresh_entry, _ = fresh.cache.encode(ctx)
    for k, k0 in zip(entry.buffer.k, fresh_entry.buffer.k):
        assert torch.equal(k[:, :, : len(ctx)], k0[:, :, : len(ctx)])
    again = inf.infill(PREFIX, SUFFIX, length=12)
    assert again.context_computed == 0 and again.tokens == got.tokens


def test_a_leg_from_an_earlier_legs_weights_draws_other_examples(small_corpus, tmp_path):
    """Legs warm-started from one folder draw the same examples (determinism), and a leg
    from weights that saw more tokens draws others: a leg does not replay the one before."""
    _train(small_corpus, tmp_path / "a", "--objective", "block-ar", "--steps", "2")
    more = tmp_path / "a-later"
    shutil.copytree(tmp_path / "a" / "model", more)
    config = json.loads((more / "config.json").read_text())
    config["info"]["tokens_total"] += 1000
    (more / "config.json").write_text(json.dumps(config))

    def heldout_after_a_leg(init: Path, name: str) -> float:
        _train(
            small_corpus,
            tmp_path / name,
            "--objective",
            "block-ar",
            "--steps",
            "2",
            "--init",
            str(init),
            "--precision",
            "fp32",
        )
        log = (tmp_path / name / "train_log.jsonl").read_text().splitlines()
        return json.loads(log[-1])["heldout"]["loss"]

    first = heldout_after_a_leg(tmp_path / "a" / "model", "b")
    assert heldout_after_a_leg(tmp_path / "a" / "model", "c") == first
    assert heldout_after_a_leg(more, "d") != first


def test_bits_per_byte_counts_the_middles_text_and_agrees_with_the_training_loss(model, tok):
    rng = random.Random(0)
    text = "def f(x):\n    y = x * 2\n    return y + 1\n\nprint(f(3))\n"
    a = text.index("y = ")
    opts = bdo.BlockOptions("block-ar", block_size=4)
    examples = [
        bdo.block_example(tok, text, (a, a + 9), rng, opts, max_tokens=256),
        bdo.plain_block_example(tok, tok.encode(text), rng, opts),
    ]
    batch = bdo.collate(examples, tok)
    counts = bdo.token_byte_counts(tok)
    assert counts[tok.mask_id] == 0 and counts[tok.encode(" return")[0]] > 0
    sums = bdo.ar_nats_and_bytes(model, batch, counts)
    # The middle's bytes are its text's; its nats include the one <end> that closes it.
    assert sums["middle_bytes"] == len(text[a : a + 9].encode())
    assert sums["middle_tokens"] == len(tok.encode(text[a : a + 9])) + 1
    # The plain window's targets are every token but its first.
    plain_bytes = len(text.encode()) - len(tok.token_bytes(tok.encode(text)[0]))
    _, stats = bdo.block_loss(model, batch)
    assert sums["nats"] / sums["tokens"] == pytest.approx(stats["ar_ce"], rel=1e-5)
    assert sums["bytes"] > plain_bytes + sums["middle_bytes"]  # the FIM context is read too
