from __future__ import annotations

import threading

import pytest
import torch

from diffill.model import Cancelled, InfillError, InfillRequest, SamplerOptions
from diffill.model.backends.mdlm import DEFAULT_CACHE_ENTRIES, Infiller
from diffill.model.checkpoint import Checkpoint
from diffill.model.sampler import PRESETS

from .conftest import CancelAfter, tiny_model


def test_infill_returns_text_and_facts(infiller):
    r = infiller.infill("def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n")
    assert isinstance(r.text, str)
    assert r.steps >= 1 and r.seconds > 0
    assert r.candidates and r.length in r.candidates
    assert len(r.tokens) == len(r.token_confidence) <= r.length
    assert infiller.tokenizer.pad_id not in r.tokens
    assert infiller.tokenizer.mask_id not in r.tokens
    assert r.text == infiller.tokenizer.decode(r.tokens)


def test_one_token_per_step_baseline(infiller):
    r = infiller.infill("x = ", "\n", length=10, steps=10)
    assert r.steps == 10 and r.length == 10 and r.candidates == [10]


def test_same_inputs_and_seed_give_the_same_output(infiller):
    a = infiller.infill("def f(x):\n    ", "\n", temperature=0.8, seed=4, max_steps=8)
    b = infiller.infill("def f(x):\n    ", "\n", temperature=0.8, seed=4, max_steps=8)
    c = infiller.infill("def f(x):\n    ", "\n", temperature=0.8, seed=5, max_steps=8)
    assert a.tokens == b.tokens
    assert a.tokens != c.tokens


def test_batch_equals_single_requests(infiller):
    pairs = [("a = ", "\n"), ("def long_function_name(x, y):\n    ", "\n\nz = 1\n"), ("", "")]
    batch = infiller.infill_batch(pairs, length=6)
    for (prefix, suffix), got in zip(pairs, batch):
        alone = infiller.infill(prefix, suffix, length=6)
        assert got.tokens == alone.tokens


def test_length_candidates_are_decoded_together(infiller):
    r = infiller.infill("import os\n", "\n")
    assert 1 <= len(r.candidates) <= 3
    assert all(1 <= n <= infiller.max_span_tokens for n in r.candidates)


def test_touch_up_keeps_most_of_the_original(infiller):
    middle = "result = compute(alpha, beta, gamma, delta)"
    original = infiller.tokenizer.encode(middle)
    r = infiller.infill("", "\n", middle=middle, strength=0.25, seed=1)
    kept = sum(a == b for a, b in zip(original, r.tokens))
    assert kept >= int(0.75 * len(original)) - 1


def test_accept_prefers_passing_candidates(infiller):
    texts = []

    def accept(text):
        texts.append(text)
        return False

    infiller.infill("x = ", "\n", accept=accept)
    assert texts, "the check saw the candidates"


def test_on_step_streams_text(infiller):
    seen = []
    infiller.infill("a = ", "\n", length=5, steps=5, on_step=lambda text, step: seen.append(step))
    assert [s.index for s in seen] == [1, 2, 3, 4, 5]
    assert [s.masked for s in seen] == [4, 3, 2, 1, 0]


def test_cancel(infiller):
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        infiller.infill("a", "b", cancel=event)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strength": 0},
        {"strength": 1.5},
        {"length": 0},
        {"length": 10_000},
    ],
)
def test_bad_requests_raise_clear_errors(infiller, kwargs):
    with pytest.raises(InfillError):
        infiller.infill("a", "b", middle="c", **kwargs)


def test_unknown_sampler_option_raises(infiller):
    with pytest.raises(ValueError, match="unknown sampler option"):
        infiller.infill("a", "b", temprature=1.0)


def test_long_context_is_trimmed_far_from_the_gap(infiller):
    prefix = "x = 1\n" * 3000
    r = infiller.infill(prefix, "y = 2\n" * 3000, length=4)
    assert r.length == 4


def test_batch_of_requests_with_rewrites(infiller):
    rs = infiller.infill_batch(
        [
            InfillRequest("a = ", "\n", middle="b + c", strength=0.5),
            InfillRequest("def f():\n    ", "\n", length=3),
        ]
    )
    assert len(rs) == 2 and rs[1].length == 3


def test_rows_that_finish_early_leave_the_batch_without_changing_results(infiller):
    # Different lengths finish after different numbers of steps; each result must be what
    # the request gives alone.
    requests = [
        InfillRequest("a = ", "\n", length=2),
        InfillRequest("def long_function_name(x, y):\n    ", "\n\nz = 1\n", length=20),
        InfillRequest("import os\n", "", length=9),
    ]
    batch = infiller.infill_batch(requests, max_steps=6)
    for r, got in zip(requests, batch):
        alone = infiller.infill(r.prefix, r.suffix, length=r.length, max_steps=6)
        assert got.tokens == alone.tokens


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_are_valid_sampler_settings(infiller, preset):
    r = infiller.infill("import os\n", "\n", **PRESETS[preset])
    assert 1 <= len(r.candidates) <= PRESETS[preset]["length_candidates"]
    assert r.steps <= PRESETS[preset]["max_steps"]
    assert SamplerOptions() == SamplerOptions.of(**PRESETS["balanced"])


def test_logits_predict_in_place_and_ignore_padding(infiller):
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 7, infiller.tokenizer.pad_id]])
    valid = torch.tensor([[True] * 4, [True, True, True, False]])
    out = infiller.logits(ids, valid)
    assert out.shape == (2, 4, infiller.model.cfg.vocab_size) and out.dtype == torch.float32
    alone = infiller.logits(ids[1:, :3])
    assert torch.allclose(out[1, :3], alone[0], atol=1e-4)
    # Bidirectional: a later token changes an earlier position's logits.
    assert not torch.allclose(out[0, 0], out[1, 0], atol=1e-4)


# -- contexts kept encoded across calls ------------------------------------------------------

KEPT_PREFIX = "def area(radius):\n    return 3.14 * radius ** 2\n\n" * 4 + "def perimeter(r):\n"
KEPT_SUFFIX = "\n\nprint(perimeter(2.0))\n"


def fresh(infiller) -> Infiller:
    """A backend of the same network that has kept nothing yet."""
    return Infiller(Checkpoint(infiller.model, infiller.tokenizer), name="fresh")


def answer(r) -> tuple:
    return r.tokens, r.token_confidence, r.candidates, r.score


def test_the_same_context_again_is_not_encoded_again_and_answers_as_a_fresh_model(infiller):
    keeps = fresh(infiller)
    first = keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, seed=3)
    assert first.context_computed == first.context_tokens > 40
    # A longer canvas, then a shorter one and two candidate lengths: each writes the room
    # after the kept context, never the context.
    for kwargs in ({"length": 40}, {"length": 5}, {}, {"temperature": 0.7, "remask": 0.3}):
        again = keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, seed=3, **kwargs)
        assert again.context_computed == 0 and again.context_tokens == first.context_tokens
        alone = fresh(infiller).infill(KEPT_PREFIX, KEPT_SUFFIX, seed=3, **kwargs)
        assert alone.context_computed == alone.context_tokens
        assert answer(again) == answer(alone)
    torch.testing.assert_close(
        keeps.length_distribution(KEPT_PREFIX, KEPT_SUFFIX),
        fresh(infiller).length_distribution(KEPT_PREFIX, KEPT_SUFFIX),
        rtol=0,
        atol=0,
    )


def test_one_changed_character_encodes_the_whole_context_again(infiller):
    keeps = fresh(infiller)
    keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, length=4)
    typed = keeps.infill(KEPT_PREFIX + "x", KEPT_SUFFIX, length=4)
    assert typed.context_computed == typed.context_tokens  # bidirectional: all of it changed
    assert answer(typed) == answer(fresh(infiller).infill(KEPT_PREFIX + "x", KEPT_SUFFIX, length=4))


def test_a_warmed_context_is_found_encoded(infiller):
    keeps = fresh(infiller)
    assert keeps.reuses_context
    encoded = keeps.warm_context(KEPT_PREFIX, KEPT_SUFFIX)
    assert keeps.warm_context(KEPT_PREFIX, KEPT_SUFFIX) == 0  # kept already
    got = keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, seed=1)
    assert encoded == got.context_tokens and got.context_computed == 0
    assert answer(got) == answer(fresh(infiller).infill(KEPT_PREFIX, KEPT_SUFFIX, seed=1))


def test_a_cancelled_warm_up_stops_between_layers_and_keeps_nothing(infiller):
    keeps = fresh(infiller)
    assert keeps.warm_context(KEPT_PREFIX, KEPT_SUFFIX, cancel=CancelAfter(1)) == 0
    assert len(keeps.kept) == 0
    got = keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, length=6)
    assert got.context_computed == got.context_tokens
    assert answer(got) == answer(fresh(infiller).infill(KEPT_PREFIX, KEPT_SUFFIX, length=6))


def test_the_least_recently_used_context_goes_first(infiller):
    keeps = fresh(infiller)
    prefixes = [f"x{i} = {i}\n" for i in range(DEFAULT_CACHE_ENTRIES + 1)]
    for p in prefixes:
        keeps.infill(p, "\n", length=2, steps=1)
    assert len(keeps.kept) == DEFAULT_CACHE_ENTRIES
    assert keeps.infill(prefixes[-1], "\n", length=2, steps=1).context_computed == 0
    assert keeps.infill(prefixes[0], "\n", length=2, steps=1).context_computed > 0


def test_a_batch_is_encoded_as_one_and_answers_as_single_requests(infiller):
    keeps = fresh(infiller)
    keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, length=6)
    pairs = [(KEPT_PREFIX, KEPT_SUFFIX), ("a = ", "\n")]
    batch = keeps.infill_batch(pairs, length=6)
    assert all(r.context_computed == r.context_tokens for r in batch)
    for (prefix, suffix), got in zip(pairs, batch):
        assert got.tokens == keeps.infill(prefix, suffix, length=6).tokens


def test_changed_weights_make_the_kept_contexts_stale(infiller):
    net = tiny_model(infiller.tokenizer.vocab_size, seed=5, span_positions=48)
    keeps = Infiller(Checkpoint(net, infiller.tokenizer))
    keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, length=6)
    with torch.no_grad():
        net.blocks[0].mlp.down.weight.mul_(3.0)  # a training step, say
    got = keeps.infill(KEPT_PREFIX, KEPT_SUFFIX, length=6)
    assert got.context_computed == got.context_tokens
    assert answer(got) == answer(
        Infiller(Checkpoint(net, infiller.tokenizer)).infill(KEPT_PREFIX, KEPT_SUFFIX, length=6)
    )
