from __future__ import annotations

import threading

import pytest
import torch

from diffill.model.sampler import Cancelled, Context, SamplerOptions, denoise

from .conftest import tiny_model

V, MASK, PAD, FORBIDDEN = 300, 1, 0, 2


def setup(seed=0, rows=2, length=12, n_ctx=20, vocab=V):
    torch.manual_seed(seed)
    model = tiny_model(vocab, seed=seed)
    ctx_tokens = torch.randint(5, vocab, (1, n_ctx))
    p = n_ctx // 2
    ctx_pos = torch.cat((torch.arange(p), torch.arange(p, n_ctx) + 256))[None]
    ctx = Context(ctx_tokens, ctx_pos, torch.ones(1, n_ctx, dtype=torch.bool)).encode(model)
    canvas = torch.full((rows, length), MASK)
    canvas[:, 3] = 42  # a given token inside the canvas
    positions = (p + torch.arange(length))[None].expand(rows, -1)
    return model, ctx, canvas, positions


def run(model, ctx, canvas, positions, use_cache=True, **opts):
    steps = []
    res = denoise(
        model,
        canvas,
        positions,
        ctx.rows(torch.zeros(len(canvas), dtype=torch.long)),
        mask_id=MASK,
        forbidden_ids=(MASK, FORBIDDEN),
        options=SamplerOptions.of(**opts),
        on_step=steps.append,
        use_cache=use_cache,
    )
    return res, steps


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"steps": 4},
        {"steps": 12, "order": "margin"},
        {"threshold": 0.01, "order": "entropy"},
        {"temperature": 1.0, "top_p": 0.8, "seed": 7},
        {"temperature": 0.7, "remask": 0.5, "seed": 1},
    ],
)
def test_invariants(opts):
    model, ctx, canvas, positions = setup()
    before = ctx.tokens.clone()
    res, steps = run(model, ctx, canvas, positions, **opts)
    assert not (res.tokens == MASK).any(), "never emits a mask"
    assert (res.tokens[:, 3] == 42).all(), "given tokens never change"
    assert torch.equal(ctx.tokens, before), "context never changes"
    counts = [int((canvas == MASK).sum())] + [s.masked for s in steps]
    assert all(b < a for a, b in zip(counts, counts[1:])), "mask count falls every step"
    assert counts[-1] == 0 and res.steps == len(steps)
    assert not (res.tokens == FORBIDDEN).any(), "never emits a forbidden token"


def test_step_budget_is_respected():
    model, ctx, canvas, positions = setup()
    res, _ = run(model, ctx, canvas, positions, steps=3)
    assert res.steps == 3
    res, _ = run(model, ctx, canvas, positions, steps=11)
    assert res.steps == 11  # 11 masked positions, one per step


def test_threshold_mode_commits_at_least_one_per_step():
    model, ctx, canvas, positions = setup()
    res, _ = run(model, ctx, canvas, positions, threshold=1.0)
    assert res.steps == int((canvas[0] == MASK).sum())  # nothing reaches p > 1: one per step
    res, _ = run(model, ctx, canvas, positions, threshold=1.0, max_steps=4)
    assert res.steps == 4  # the step cap forces several commits per step
    res, _ = run(model, ctx, canvas, positions, threshold=1e-6)
    assert res.steps == 1  # everything above a tiny threshold: all in one step


def test_deterministic_for_a_seed():
    model, ctx, canvas, positions = setup()
    a, _ = run(model, ctx, canvas, positions, temperature=1.0, seed=5)
    b, _ = run(model, ctx, canvas, positions, temperature=1.0, seed=5)
    c, _ = run(model, ctx, canvas, positions, temperature=1.0, seed=6)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, c.tokens)
    g1, _ = run(model, ctx, canvas, positions)
    g2, _ = run(model, ctx, canvas, positions)
    assert torch.equal(g1.tokens, g2.tokens)


@pytest.mark.parametrize("opts", [{}, {"steps": 5}, {"remask": 0.3, "threshold": 0.5}])
def test_cached_and_uncached_decoding_agree(opts):
    model, ctx, canvas, positions = setup(seed=3)
    cached, _ = run(model, ctx, canvas, positions, use_cache=True, **opts)
    uncached, _ = run(model, ctx, canvas, positions, use_cache=False, **opts)
    assert torch.equal(cached.tokens, uncached.tokens)
    torch.testing.assert_close(cached.confidence, uncached.confidence, atol=1e-4, rtol=1e-4)


def test_padding_rows_are_left_alone_and_do_not_change_results():
    model, ctx, canvas, positions = setup(rows=1)
    alone, _ = run(model, ctx, canvas, positions)
    wide = torch.cat((canvas, torch.full((1, 5), MASK)), 1)
    wide_pos = torch.cat((positions, positions[:, -1:] + 1 + torch.arange(5)), 1)
    valid = torch.zeros_like(wide, dtype=torch.bool)
    valid[:, :12] = True
    res = denoise(
        model,
        wide,
        wide_pos,
        ctx.rows(torch.zeros(1, dtype=torch.long)),
        mask_id=MASK,
        valid=valid,
        forbidden_ids=(MASK,),
    )
    assert torch.equal(res.tokens[:, :12], alone.tokens)
    assert (res.tokens[:, 12:] == MASK).all()


def test_cancellation_is_checked_between_steps():
    model, ctx, canvas, positions = setup()
    event = threading.Event()
    seen = []

    def on_step(step):
        seen.append(step.index)
        if step.index == 2:
            event.set()

    with pytest.raises(Cancelled):
        denoise(
            model,
            canvas,
            positions,
            ctx.rows(torch.zeros(2, dtype=torch.long)),
            mask_id=MASK,
            options=SamplerOptions(steps=8),
            on_step=on_step,
            cancel=event,
        )
    assert seen == [1, 2]


@pytest.mark.parametrize(
    "bad",
    [
        {"steps": 0},
        {"threshold": 0},
        {"order": "random"},
        {"temperature": -1},
        {"top_p": 0},
        {"remask": 1.0},
        {"max_steps": 0},
        {"stpes": 3},
    ],
)
def test_bad_options_raise(bad):
    with pytest.raises(ValueError):
        SamplerOptions.of(**bad)
