from __future__ import annotations

import random

import torch

from diffill.model.training.objective import (
    PROBE_GROUP_BASE,
    collate,
    diffusion_loss,
    plain_example,
    span_example,
)
from diffill.model.training.spans import SourceFile, sample_spans

from .conftest import tiny_model

SOURCE = '''import os


def greet(name):
    """Say hello."""
    message = "hello " + name
    print(message)
    return message


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self, by=1):
        self.count += by
        return self.count
'''


def test_span_example_cuts_canvases_with_slack_and_probes(tokenizer):
    text = "x = compute(a, b)\nprint(x)\n"
    a = text.index("compute")
    b = text.index("\n")
    ex = span_example(tokenizer, text, [(a, b)], random.Random(0), span_positions=64)
    span_ids = tokenizer.encode(text[a:b])
    canvas = [t for t, g in zip(ex.tokens, ex.groups) if g == 1]
    assert canvas[: len(span_ids)] == span_ids
    assert all(t == tokenizer.pad_id for t in canvas[len(span_ids) :])
    probe = ex.groups.index(PROBE_GROUP_BASE + 1)
    assert ex.tokens[probe] == tokenizer.len_id
    assert ex.length_target[probe] == len(span_ids)
    first_canvas = ex.groups.index(1)
    assert ex.positions[probe] == ex.positions[first_canvas]
    # the suffix starts span_positions after the canvas start, whatever the span length
    suffix = [i for i, g in enumerate(ex.groups) if g == 0 and i > first_canvas]
    assert ex.positions[suffix[0]] == ex.positions[first_canvas] + 64
    # context reassembles the text around the span, canvas holds the span
    ctx = [t for t, g in zip(ex.tokens, ex.groups) if g == 0]
    assert tokenizer.decode(ctx) == text[:a] + text[b:]


def test_sampled_spans_are_disjoint_and_inside_the_window():
    f = SourceFile("x.py", SOURCE)
    rng = random.Random(3)
    for _ in range(50):
        spans = sample_spans(f, 10, len(SOURCE) - 5, rng, 5)
        for (_, b), (c, _) in zip(spans, spans[1:]):
            assert b < c
        assert all(10 <= a < b <= len(SOURCE) - 5 for a, b in spans)
    assert f.units, "tree-sitter found syntax units"


def test_collate_masks_only_canvas_positions(tokenizer):
    rng = random.Random(0)
    f = SourceFile("x.py", SOURCE)
    exs = [
        span_example(tokenizer, SOURCE, sample_spans(f, 0, len(SOURCE), rng, 3), rng, 64)
        for _ in range(6)
    ]
    exs.append(plain_example(tokenizer, SOURCE, 64))
    batch = collate(exs, tokenizer, torch.Generator().manual_seed(0))
    is_canvas = torch.zeros_like(batch.noised)
    for b, e in enumerate(exs):
        is_canvas[b, : len(e)] = torch.tensor(e.canvas)
    assert not (batch.noised & ~is_canvas).any()
    assert batch.noised.any(1).all(), "every example has a masked position"
    assert (batch.inputs[batch.noised] == tokenizer.mask_id).all()
    assert (batch.inputs[~batch.noised] == batch.targets[~batch.noised]).all()
    assert len(batch.probe_length) > 0


def test_loss_falls_when_overfitting_one_batch(tokenizer):
    torch.manual_seed(0)
    model = tiny_model(tokenizer.vocab_size).train()
    rng = random.Random(0)
    f = SourceFile("x.py", SOURCE)
    exs = [
        span_example(tokenizer, SOURCE, sample_spans(f, 0, len(SOURCE), rng, 2), rng, 64)
        for _ in range(4)
    ]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        # the same noise every step, so the loss measures memorisation
        batch = collate(exs, tokenizer, torch.Generator().manual_seed(1))
        loss, stats = diffusion_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert "length_loss" in stats
