"""diffill's block-diffusion model (v2) as an infiller: a causal fill-in-the-middle context
encoded once and kept across requests, and the middle decoded as masked-diffusion blocks.

    from diffill.model import load
    infiller = load("runs/v2/model")      # model_type "diffill-block" in config.json
    infiller.infill(prefix, suffix).text

A request is laid out by `fim` (SPM or PSM, as the model was trained) and its context is
run causally, so each context token's keys and values depend only on the tokens before it.
`ContextCache` keeps the keys and values of recent contexts in preallocated buffers: a
request whose context shares its first tokens with a cached one re-encodes only from the
first change on (typing at the cursor changes the last tokens of an SPM context).

The middle is written block by block (Arriola et al. 2025, BD3-LM; Wu et al. 2025,
Fast-dLLM v2). A block is its anchor (the last token before it, already known) and
`block_size` masks; the block attends to the cached context and earlier blocks and, in
both directions, to itself. Each step runs the block once and commits proposals by the
shared rule (`sampler.commit_step`: a step budget or a confidence threshold, remasking of
doubtful tokens); output slot i predicts the block's token i (the token shift of the AR
model it was adapted from). A finished block is encoded causally into the buffer and the
next block starts. The middle ends at the model's <end> token, so its length comes out of
decoding; a given `length` forbids <end> until that many tokens are written.

Exactness of the cache: contexts are encoded in chunks of `CHUNK` tokens at fixed
boundaries (multiples of CHUNK), each attending to the buffer before it. A fresh encode
and an incremental one run the same chunk computations on the same inputs and buffer
layout, so a cached answer is bit for bit a fresh model's answer.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from . import fim
from .blockdiff_objective import fim_tokens
from .infiller import InfillRequest, InfillResult
from .network import DiffusionLM, KVBuffer
from .sampler import CancelHandle, Cancelled, SamplerOptions, Step, commit_step, propose
from .tokenizer import CodeTokenizer

# Chunk of a context encoding: a change at token i re-encodes from the chunk holding i.
CHUNK = 64
# Context text beyond this many characters per token of budget is never tokenized; the
# window's edge moves in steps of a quarter of it, at line starts, so it is stable.
CHARS_PER_BUDGET_TOKEN = 12


@dataclass
class _Entry:
    buffer: KVBuffer
    ids: list[int] = field(default_factory=list)  # context whose keys/values are in slots
    used: int = 0


class ContextCache:
    """Keys and values of the last few contexts, each in its own preallocated buffer.

    entries: how many contexts are kept (least recently used goes first); every buffer
        holds `capacity` slots, enough for a context and the longest middle.
    """

    def __init__(
        self, model: DiffusionLM, capacity: int, entries: int, dtype: torch.dtype, device
    ) -> None:
        if entries < 1:
            raise ValueError("the context cache needs at least one entry")
        self.model = model
        self.capacity = capacity
        self.max_entries = entries
        self.dtype = dtype
        self.device = device
        self.entries: list[_Entry] = []
        self._clock = 0
        self.lock = threading.Lock()

    def clear(self) -> None:
        self.entries.clear()

    def _pick(self, ids: list[int]) -> tuple[_Entry, int]:
        """The entry to encode `ids` into, and how many leading tokens it already holds."""
        best, best_common = None, 0
        for e in self.entries:
            common = _common_prefix(e.ids, ids)
            if common > best_common:
                best, best_common = e, common
        reuse = (best_common // CHUNK) * CHUNK
        if best is not None and reuse > 0:
            return best, reuse
        if len(self.entries) < self.max_entries:
            cfg = self.model.cfg
            entry = _Entry(KVBuffer(cfg, 1, self.capacity, self.dtype, self.device))
            self.entries.append(entry)
            return entry, 0
        return min(self.entries, key=lambda e: e.used), 0

    @torch.no_grad()
    def encode(self, ids: list[int]) -> tuple[_Entry, int]:
        """The entry holding the keys/values of `ids` in slots 0..len(ids)-1, and how many
        tokens this call encoded."""
        if len(ids) + 1 > self.capacity:
            raise ValueError(f"a context of {len(ids)} tokens exceeds the cache's buffers")
        entry, reuse = self._pick(ids)
        self._clock += 1
        entry.used = self._clock
        entry.ids = []  # invalid until the encode below completes
        device = self.device
        for a in range(reuse, len(ids), CHUNK):
            b = min(a + CHUNK, len(ids))
            tokens = torch.tensor([ids[a:b]], device=device)
            positions = torch.arange(a, b, device=device)[None]
            self.model.hidden(tokens, positions, _causal_mask(a, b, device), entry.buffer, a)
        entry.ids = list(ids)
        return entry, len(ids) - reuse


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _causal_mask(a: int, b: int, device) -> torch.Tensor:
    """(1, 1, b-a, b): query a+i sees keys 0..a+i."""
    q = torch.arange(a, b, device=device)[:, None]
    k = torch.arange(b, device=device)[None, :]
    return (k <= q)[None, None]


@dataclass
class BlockResult:
    tokens: list[int]
    confidence: list[float]
    steps: int  # denoising steps (model calls over a block)
    model_calls: int  # steps plus the causal encodes of finished blocks
    ended: bool  # the model wrote <end>


def decode(
    model: DiffusionLM,
    entry: _Entry,
    n_context: int,
    *,
    ids: fim.FimTokens,
    block_size: int,
    forbidden: torch.Tensor,
    options: SamplerOptions,
    canvas: list[int] | None = None,
    max_tokens: int = 256,
    min_tokens: int = 0,
    on_step: Callable[[list[int], Step], None] | None = None,
    cancel: CancelHandle | None = None,
) -> BlockResult:
    """Write the middle after a context whose keys/values fill `entry`'s slots 0..n-1.

    model: the network, in eval mode.
    n_context: context length; its last token (<mid>) anchors the first block.
    ids: the layout's special ids; block_size: tokens per block (>= 1).
    forbidden: (V,) bool, tokens never to write (<end> is handled here).
    canvas: None to write freely until <end> or `max_tokens`; else the middle's tokens
        with `ids.mask` where the model writes (the rest is kept), decoded block by
        block, an <end> written into a masked slot meaning "nothing here".
    min_tokens: <end> is forbidden before this many tokens (a fixed length).
    on_step: called with (tokens so far, Step) after every step.
    cancel: anything with `is_set()`; checked before every step (raises `Cancelled`).
    """
    if block_size < 1:
        raise ValueError("block size must be >= 1")
    device = entry.buffer.k[0].device
    gen = torch.Generator(device="cpu").manual_seed(options.seed)
    out: list[int] = []
    conf_out: list[float] = []
    clean = n_context
    anchor = entry.ids[n_context - 1]
    steps = calls = 0
    ended = False
    limit = len(canvas) if canvas is not None else max_tokens
    while len(out) < limit:
        width = min(block_size, limit - len(out))
        given = canvas[len(out) : len(out) + width] if canvas is not None else [ids.mask] * width
        if clean + width + 1 > entry.buffer.capacity:
            break
        tokens = torch.tensor([[anchor, *given]], device=device)  # (1, W+1)
        positions = torch.arange(clean - 1, clean + width, device=device)[None]
        masked = tokens[:, 1:] == ids.mask  # (1, W)
        generated = masked.clone()
        confidence = torch.where(masked, 0.0, 1.0)
        # <end> may stand at middle index min_tokens and later.
        end_from = max(0, min_tokens - len(out)) if canvas is None else 0
        block_step = 0
        while bool(masked.any()):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            block_step += 1
            steps += 1
            calls += 1
            h, _ = model.hidden(tokens, positions, None, entry.buffer, clean)
            logits = model.token_logits(h[:, :width]).float()  # (1, W, V): slot i -> token i
            logits[..., forbidden] = float("-inf")
            if end_from:
                logits[:, :end_from, ids.end] = float("-inf")
            x0, conf, rank = propose(logits, options, gen)
            probs_now = None
            if options.remask > 0:
                probs_now = torch.softmax(logits, -1).gather(-1, tokens[:, 1:, None])[..., 0]
            block, masked, confidence = commit_step(
                tokens[:, 1:],
                masked,
                confidence,
                generated,
                (x0, conf, rank),
                block_step,
                options,
                ids.mask,
                probs_now,
            )
            tokens[:, 1:] = block
            if on_step is not None:
                so_far = out + [t for t in block[0].tolist() if t != ids.mask]
                on_step(so_far, _step(steps, block, masked))
        block_ids = tokens[0, 1:].tolist()
        block_conf = confidence[0].tolist()
        if canvas is None and ids.end in block_ids:
            e = block_ids.index(ids.end)
            out += block_ids[:e]
            conf_out += block_conf[:e]
            ended = True
            break
        out += block_ids
        conf_out += block_conf
        if len(out) >= limit:
            break
        # The finished block joins the clean stream: encoded causally after what is there.
        calls += 1
        model.hidden(
            tokens[:, 1:],
            positions[:, 1:],
            _causal_mask(clean, clean + width, device),
            entry.buffer,
            clean,
        )
        clean += width
        anchor = block_ids[-1]
    if canvas is not None:
        keep = [k for k, t in enumerate(out) if t != ids.end]
        out = [out[k] for k in keep]
        conf_out = [conf_out[k] for k in keep]
    return BlockResult(out, conf_out, steps, calls, ended)


def _step(index: int, block: torch.Tensor, masked: torch.Tensor) -> Step:
    return Step(index, block.clone(), int(masked.sum()))


def window_text(prefix: str, suffix: str, budget: int) -> tuple[str, str, bool, bool]:
    """Prefix and suffix text cut to what `budget` tokens can use, on stable line starts
    (so tokenizing them gives the same leading tokens as the cursor moves), and whether
    each was cut."""
    width = budget * CHARS_PER_BUDGET_TOKEN
    step = max(1, width // 4)
    pre_cut = suf_cut = False
    if len(prefix) > width:
        cut = ((len(prefix) - width) // step + 1) * step
        line = prefix.find("\n", cut)
        cut = line + 1 if 0 <= line < len(prefix) - 1 else cut
        prefix, pre_cut = prefix[cut:], True
    if len(suffix) > width:
        cut = width
        line = suffix.rfind("\n", 0, cut)
        suffix, suf_cut = suffix[: line + 1 if line > 0 else cut], True
    return prefix, suffix, pre_cut, suf_cut


class BlockInfiller:
    """A block-diffusion model and its tokenizer, ready to infill; keeps recent contexts."""

    def __init__(
        self,
        model: DiffusionLM,
        tokenizer: CodeTokenizer,
        *,
        block_size: int,
        fim_order: str,
        max_context_tokens: int = 1024,
        max_span_tokens: int = 256,
        cache_entries: int = 4,
        name: str = "model",
        device: torch.device | None = None,
        folder=None,
    ) -> None:
        if tokenizer.vocab_size != model.cfg.vocab_size:
            raise ValueError("tokenizer and model disagree on the vocabulary size")
        if fim_order not in fim.ORDERS:
            raise ValueError(f"FIM order must be one of {fim.ORDERS}, not {fim_order!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.ids = fim_tokens(tokenizer)
        self.block_size = block_size
        self.fim_order = fim_order
        self.name = name
        self.folder = folder
        self.model_type = "diffill-block"
        self.device = device or next(model.parameters()).device
        self.max_span_tokens = max_span_tokens
        self.cache_entries = cache_entries
        self.max_context_tokens = max_context_tokens
        forbidden = torch.zeros(model.cfg.vocab_size, dtype=torch.bool)
        forbidden[sorted(tokenizer.special_ids - {self.ids.end})] = True
        self.forbidden = forbidden.to(self.device)

    @property
    def max_context_tokens(self) -> int:
        return self._max_context_tokens

    @max_context_tokens.setter
    def max_context_tokens(self, n: int) -> None:
        self._max_context_tokens = n
        dtype = next(self.model.parameters()).dtype
        # Slots: context and its sentinels, the longest middle, and one block's scratch.
        capacity = n + 6 + self.max_span_tokens + self.block_size + 1
        self.cache = ContextCache(self.model, capacity, self.cache_entries, dtype, self.device)

    def context(self, prefix: str, suffix: str) -> list[int]:
        """The context ids of a request, trimmed on stable boundaries, ending with <mid>."""
        t = self.tokenizer
        pre_text, suf_text, pre_cut, suf_cut = window_text(prefix, suffix, self.max_context_tokens)
        pre, suf = t.encode_batch([pre_text, suf_text])
        cut = fim.trim(pre, suf, self.max_context_tokens)
        cut = fim.Trimmed(
            cut.prefix, cut.suffix, cut.prefix_cut or pre_cut, cut.suffix_cut or suf_cut
        )
        return fim.context_ids(cut, self.fim_order, self.ids)

    @torch.no_grad()
    def infill(
        self,
        prefix: str,
        suffix: str = "",
        *,
        middle: str | None = None,
        strength: float = 1.0,
        length: int | None = None,
        remask: Sequence[tuple[int, int]] | None = None,
        on_step: Callable[[str, Step], None] | None = None,
        cancel: CancelHandle | None = None,
        **sampler_options,
    ) -> InfillResult:
        t0 = time.perf_counter()
        options = SamplerOptions.of(**sampler_options)
        t = self.tokenizer
        canvas = None
        if middle is not None and (remask is not None or strength < 1):
            canvas = self._touch_up(middle, strength, options.seed)
        ctx = self.context(prefix, suffix)
        with self.cache.lock:
            entry, computed = self.cache.encode(ctx)
            res = decode(
                self.model,
                entry,
                len(ctx),
                ids=self.ids,
                block_size=self.block_size,
                forbidden=self.forbidden,
                options=options,
                canvas=canvas,
                max_tokens=length or self.max_span_tokens,
                min_tokens=length or 0,
                on_step=(lambda toks, s: on_step(t.decode(toks), s)) if on_step else None,
                cancel=cancel,
            )
        conf = res.confidence
        return InfillResult(
            text=t.decode(res.tokens),
            tokens=res.tokens,
            confidence=sum(conf) / len(conf) if conf else 1.0,
            token_confidence=conf,
            steps=res.steps,
            seconds=time.perf_counter() - t0,
            length=len(res.tokens),
            candidates=[len(res.tokens)],
            score=sum(math.log(max(c, 1e-9)) for c in conf) / max(1, len(conf)),
            context_tokens=len(ctx),
            context_computed=computed,
        )

    def infill_batch(self, pairs, *, length=None, cancel=None, accept=None, **sampler_options):
        """`infill` for each (prefix, suffix) pair or request, one after another (each
        request's context comes from the cache)."""
        out = []
        for p in pairs:
            if isinstance(p, InfillRequest):
                out.append(
                    self.infill(
                        p.prefix,
                        p.suffix,
                        middle=p.middle,
                        strength=p.strength,
                        length=p.length or length,
                        remask=p.remask,
                        cancel=cancel,
                        **sampler_options,
                    )
                )
            else:
                out.append(self.infill(p[0], p[1], length=length, cancel=cancel, **sampler_options))
        return out

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def length_distribution(self, prefix: str, suffix: str):
        return None

    def _touch_up(self, middle: str, strength: float, seed: int) -> list[int]:
        orig = self.tokenizer.encode(middle)
        g = torch.Generator().manual_seed(seed)
        n_noise = max(1, math.ceil(strength * len(orig))) if orig else 0
        picks = set(torch.randperm(len(orig), generator=g)[:n_noise].tolist())
        slack = len(orig) // 8 + 2
        return [self.ids.mask if k in picks else x for k, x in enumerate(orig)] + [
            self.ids.mask
        ] * slack


def load(folder, device: str = "cpu", dtype: str = "auto") -> BlockInfiller:
    from pathlib import Path

    from . import checkpoint
    from .hardware import fast_bf16, resolve_device

    dev = resolve_device(device)
    ckpt = checkpoint.load(folder, dev, model_type=checkpoint.BLOCK_MODEL_TYPE)
    if dtype == "auto":
        ckpt.model.to(torch.bfloat16 if fast_bf16(dev) else torch.float32)
    else:
        ckpt.model.to(getattr(torch, dtype))
    layout = ckpt.layout
    return BlockInfiller(
        ckpt.model,
        ckpt.tokenizer,
        block_size=int(layout.get("block_size", 32)),
        fim_order=str(layout.get("fim_order", "spm")),
        max_context_tokens=int(layout.get("context_tokens", 1024)),
        name=str(Path(folder)),
        device=dev,
        folder=Path(folder),
    )
