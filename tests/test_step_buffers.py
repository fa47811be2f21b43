"""No copies per step: the masked-diffusion sampler writes each canvas after its context in
one preallocated `KVBuffer` (recomputing everything gives the same result), the
autoregressive peer writes each token into its buffer, and `KVBuffer.rows` copies only
when rows cannot be views."""

from __future__ import annotations

import pytest
import torch

from diffill.model.backends.autoregressive import ARInfiller
from diffill.model.backends.transformer import DiffusionLM, KVBuffer
from diffill.model.checkpoint import Checkpoint
from diffill.model.sampler import Context, SamplerOptions, canvas_mask, denoise

from .conftest import tiny_model

V, MASK, PAD = 300, 1, 0


def padded_contexts(model: DiffusionLM) -> Context:
    """Two requests whose contexts differ in length (the shorter one padded)."""
    torch.manual_seed(1)
    lengths = (20, 13)
    width = max(lengths)
    tokens = torch.randint(5, V, (2, width))
    valid = torch.arange(width)[None] < torch.tensor(lengths)[:, None]
    tokens[~valid] = PAD
    positions = torch.arange(width)[None].expand(2, -1).clone()
    positions[:, 10:] += 256  # a suffix after the gap
    return Context(tokens, positions, valid).encode(model)


def rows_of(ctx: Context, index: list[int], lengths: list[int]):
    """Canvas rows for `index` (the request of each), padded to the longest."""
    L = max(lengths)
    canvas = torch.full((len(index), L), MASK)
    valid = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    canvas[~valid] = PAD
    canvas[:, 2] = torch.where(valid[:, 2], 42, PAD)  # a given token
    positions = 10 + torch.arange(L)[None].expand(len(index), -1)
    return ctx.rows(torch.tensor(index)), canvas, positions, valid


@pytest.mark.parametrize("opts", [{}, {"steps": 3}, {"temperature": 0.8, "remask": 0.4}])
def test_the_buffer_equals_recomputation_with_padding_and_rows_dropping_out(opts):
    model = tiny_model(V, seed=2)
    ctx = padded_contexts(model)
    # Rows of different lengths (so they finish at different steps) over both requests.
    row_ctx, canvas, positions, valid = rows_of(ctx, [0, 0, 1], [4, 9, 6])
    options = SamplerOptions.of(**opts)
    common = dict(mask_id=MASK, valid=valid, forbidden_ids=(MASK,), options=options)
    cached = denoise(model, canvas, positions, row_ctx, **common, use_cache=True)
    fresh = denoise(model, canvas, positions, row_ctx, **common, use_cache=False)
    assert torch.equal(cached.tokens, fresh.tokens)
    torch.testing.assert_close(cached.confidence, fresh.confidence, atol=1e-4, rtol=1e-4)


def test_every_step_writes_into_the_same_buffer(monkeypatch):
    """The context's keys/values are never copied per step: each step's call gets the
    same buffer memory, and the canvas goes right after the context in it."""
    model = tiny_model(V, seed=0)
    torch.manual_seed(0)
    n_ctx = 16
    ctx = Context(
        torch.randint(5, V, (1, n_ctx)), torch.arange(n_ctx)[None], torch.ones(1, n_ctx).bool()
    ).encode(model)
    row_ctx = ctx.rows(torch.tensor([0]))
    assert row_ctx.kv is not None and ctx.kv is not None
    assert row_ctx.kv.k[0].data_ptr() == ctx.kv.k[0].data_ptr()  # one row: a view
    seen: list[tuple[int, object, object]] = []
    real = model.hidden

    def spy(tokens, positions, mask=None, past=None, write_at=0, causal=False):
        assert isinstance(past, KVBuffer)
        seen.append((past.k[0].data_ptr(), write_at, mask))
        return real(tokens, positions, mask, past, write_at, causal)

    monkeypatch.setattr(model, "hidden", spy)
    canvas = torch.full((1, 8), MASK)
    positions = n_ctx + torch.arange(8)[None]
    res = denoise(model, canvas, positions, row_ctx, mask_id=MASK, options=SamplerOptions(steps=4))
    assert res.steps == 4 and len(seen) == 4
    assert {ptr for ptr, _, _ in seen} == {ctx.kv.k[0].data_ptr()}
    assert {at for _, at, _ in seen} == {n_ctx}
    assert all(mask is None for _, _, mask in seen)  # nothing padded: the unmasked kernel


def test_rows_are_views_when_they_are_a_run_and_copies_otherwise():
    model = tiny_model(V)
    buf = KVBuffer(model.cfg, 3, 10, torch.float32, "cpu")
    base = buf.k[0].data_ptr()
    row_bytes = buf.k[0][0].numel() * buf.k[0].element_size()
    run = buf.rows(torch.tensor([1, 2]))
    assert run.k[0].data_ptr() == base + row_bytes and run.batch == 2
    run.k[0][0, 0, 0, 0] = 5.0  # a view: the write reaches the buffer
    assert buf.k[0][1, 0, 0, 0] == 5.0
    again = buf.rows(torch.tensor([0, 0]))  # a request's row twice: independent copies
    assert again.k[0].data_ptr() not in (base, base + row_bytes)
    again.k[0][0, 0, 0, 0] = 7.0
    assert again.k[0][1, 0, 0, 0] != 7.0


def test_the_canvas_mask_is_none_without_padding_and_additive_with_it():
    assert canvas_mask(torch.ones(2, 5).bool(), torch.ones(2, 3).bool(), torch.float32) is None
    ctx_valid = torch.tensor([[True, True, False]])
    valid = torch.tensor([[True, False]])
    mask = canvas_mask(ctx_valid, valid, torch.bfloat16)
    assert mask is not None and mask.dtype == torch.bfloat16 and mask.shape == (1, 1, 2, 5)
    allowed = (mask == 0)[0, 0]
    # context slot 2 and canvas slot 1 are padding: no real row sees them (the padding row
    # itself sees what real rows see, and itself, so that its row is never empty)
    assert allowed.tolist() == [[True, True, False, True, False], [True, True, False, True, True]]


def test_the_peer_writes_each_token_into_its_buffer_and_matches_a_full_pass(tokenizer):
    model = tiny_model(tokenizer.vocab_size, seed=4, causal=True, length_head=False)
    peer = ARInfiller(Checkpoint(model, tokenizer))
    r = peer.infill("def add(a, b):\n    return ", "\n", length=6, min_new_tokens=6)
    ids = peer.prompt("def add(a, b):\n    return ", "\n")
    # A full causal pass over prompt + answer: each next token is the argmax there.
    full = torch.tensor([ids + r.tokens])
    with torch.no_grad():
        h, _ = model.hidden(full, torch.arange(full.shape[1])[None])
        logits = model.token_logits(h)[0, len(ids) - 1 : -1].float()
    logits[:, peer.forbidden] = float("-inf")
    logits[:, peer.end_id] = float("-inf")
    assert logits.argmax(-1).tolist() == r.tokens
