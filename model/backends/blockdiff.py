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

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import fim
from ..backend import InfillError, InfillResult, ModelFacts
from ..checkpoint import BLOCK_MODEL_TYPE, Checkpoint, CheckpointError
from ..fim import fim_tokens
from ..requests import Call, InfillBackend, loop_free_length, middle_text
from ..sampler import CancelHandle, Cancelled, SamplerOptions, Step, commit_step, propose
from ..tokenizer import ByteTokens, CodeTokenizer
from .steps import Steps
from .transformer import DiffusionLM, KVBuffer, WeightsWatch

# Chunk of a context encoding: a change at token i re-encodes from the chunk holding i.
CHUNK = 64
# Context text beyond this many characters per token of budget is never tokenized; the
# window's edge moves in steps of a quarter of it, at line starts, so it is stable.
CHARS_PER_BUDGET_TOKEN = 12
DEFAULT_MAX_SPAN_TOKENS = 256
DEFAULT_CACHE_ENTRIES = 4
# The context budget of a model whose folder does not say what it was trained on.
DEFAULT_CONTEXT_TOKENS = 1024


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
        self.weights = WeightsWatch(model)  # the kept encodings hold for these weights
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
        if best is not None and best_common == len(ids) == len(best.ids):
            # The very context again (a request after its warm-up): every slot is as a
            # fresh encode would leave it, the last partial chunk too.
            return best, len(ids)
        if best is not None and reuse > 0:
            return best, reuse
        if len(self.entries) < self.max_entries:
            cfg = self.model.cfg
            entry = _Entry(KVBuffer(cfg, 1, self.capacity, self.dtype, self.device))
            self.entries.append(entry)
            return entry, 0
        return min(self.entries, key=lambda e: e.used), 0

    @torch.no_grad()
    def encode(self, ids: list[int], cancel: CancelHandle | None = None) -> tuple[_Entry, int]:
        """The entry holding the keys/values of `ids` in slots 0..len(ids)-1, and how many
        tokens this call encoded.

        cancel: checked before every chunk; once set, the encode stops there and the entry
        holds the chunks done so far (`entry.ids` is then a prefix of `ids`: a later encode
        goes on from it)."""
        if len(ids) + 1 > self.capacity:
            raise ValueError(f"a context of {len(ids)} tokens exceeds the cache's buffers")
        if self.weights.changed():
            for e in self.entries:
                e.ids = []  # no encoding holds; the buffers (and any CUDA graph) stay
        entry, reuse = self._pick(ids)
        self._clock += 1
        entry.used = self._clock
        entry.ids = []  # invalid until the encode below completes
        device = self.device
        for a in range(reuse, len(ids), CHUNK):
            if cancel is not None and cancel.is_set():
                entry.ids = list(ids[:a])
                return entry, a - reuse
            b = min(a + CHUNK, len(ids))
            tokens = torch.tensor([ids[a:b]], device=device)
            positions = torch.arange(a, b, device=device)[None]
            # The first chunk is all there is: the causal kernel, no mask. Later chunks see
            # every slot before them as well. Either way a chunk is computed the same way
            # whether the encode is fresh or incremental.
            mask = None if a == 0 else _causal_mask(a, b, self.dtype, device)
            self.model.hidden(tokens, positions, mask, entry.buffer, a, causal=a == 0)
        entry.ids = list(ids)
        return entry, len(ids) - reuse


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _causal_mask(a: int, b: int, dtype: torch.dtype, device) -> torch.Tensor:
    """(1, 1, b-a, b) additive bias in `dtype`: query a+i sees keys 0..a+i. (A bool mask
    would be converted to this on every layer's call.)"""
    q = torch.arange(a, b, device=device)[:, None]
    k = torch.arange(b, device=device)[None, :]
    bias = torch.zeros(b - a, b, dtype=dtype, device=device)
    return bias.masked_fill_(k > q, float("-inf"))[None, None]


@dataclass
class BlockResult:
    tokens: list[int]
    confidence: list[float]
    steps: int  # denoising steps (model calls over a block)
    model_calls: int  # steps plus the causal encodes of finished blocks
    ended: bool  # the model wrote <end>


# Without it the steps' in-place writes into a cached buffer would chain every step's
# autograd graph to the buffer, which outlives the request: memory grows with each one.
@torch.no_grad()
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
    stops: frozenset[int] = frozenset(),
    loops: ByteTokens | None = None,
    on_step: Callable[[list[int], Step], None] | None = None,
    cancel: CancelHandle | None = None,
    runner: Steps | None = None,
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
    stops: tokens after which writing freely ends (a one-line request's line breaks): the
        block that holds one is the last; the caller cuts what follows the stop.
    loops: the tokenizer, when writing freely ends at a loop (`requests.loop_free_length`)
        in the same way: the block where one ends is the last; None writes on.
    on_step: called with (tokens so far, Step) after every step.
    cancel: anything with `is_set()`; checked before every step (raises `Cancelled`).
    runner: runs each denoising step (eager, compiled, or a CUDA graph once
        `Steps.prepare` ran); None runs the network eagerly.
    """
    if block_size < 1:
        raise ValueError("block size must be >= 1")
    if block_size == 1 and canvas is None:
        return _decode_causal(
            model, entry, n_context, ids, forbidden, options, max_tokens, min_tokens,
            stops, loops, on_step, cancel,
        )
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
            if runner is not None:
                h = runner.block(tokens, positions, entry.buffer, clean)
            else:
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
        if len(out) >= limit or (canvas is None and not stops.isdisjoint(block_ids)):
            break
        # `loops` is None for a canvas (a given middle keeps the user's tokens).
        written = len(out) - len(block_ids)
        if loops is not None and loop_free_length(loops, out, written) < len(out):
            break
        # The finished block joins the clean stream: encoded causally after what is there.
        calls += 1
        model.hidden(
            tokens[:, 1:],
            positions[:, 1:],
            _causal_mask(clean, clean + width, entry.buffer.k[0].dtype, device),
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


def _decode_causal(
    model: DiffusionLM,
    entry: _Entry,
    n_context: int,
    ids: fim.FimTokens,
    forbidden: torch.Tensor,
    options: SamplerOptions,
    max_tokens: int,
    min_tokens: int,
    stops: frozenset[int],
    loops: ByteTokens | None,
    on_step: Callable[[list[int], Step], None] | None,
    cancel: CancelHandle | None,
) -> BlockResult:
    """Blocks of one token are next-token prediction: the middle written left to right,
    each token read from the causal stream's output at the token before it, exactly as
    the AR phase (`block-ar`) trains it.

    A one-token block run as a group would also show the anchor its own cached copy and a
    <mask> after it, which an AR-trained network never saw; here each step is one causal
    token and costs one call (a group step and its encode cost two).
    """
    buffer = entry.buffer
    device = buffer.k[0].device
    gen = torch.Generator(device="cpu").manual_seed(options.seed)
    # The first step recomputes the context's last token (<mid>) in its own slot to get
    # its output; the cached keys and values there are put back afterwards, so the cache
    # stays bit for bit what a fresh encode leaves.
    last = n_context - 1
    kept = [(k[:, :, last].clone(), v[:, :, last].clone()) for k, v in zip(buffer.k, buffer.v)]
    out: list[int] = []
    conf_out: list[float] = []
    ended = False
    token, slot = entry.ids[last], last
    try:
        while len(out) < max_tokens and slot + 1 < buffer.capacity:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            h, _ = model.hidden(
                torch.tensor([[token]], device=device),
                torch.tensor([[slot]], device=device),
                None,
                buffer,
                slot,
            )
            logits = model.token_logits(h[:, -1:]).float()  # (1, 1, V)
            logits[..., forbidden] = float("-inf")
            if len(out) < min_tokens:
                logits[..., ids.end] = float("-inf")
            x0, conf, _ = propose(logits, options, gen)
            token = int(x0[0, 0])
            if token == ids.end:
                ended = True
                break
            out.append(token)
            conf_out.append(float(conf[0, 0]))
            slot += 1
            if on_step is not None:
                on_step(list(out), Step(len(out), x0.clone(), 0))
            if token in stops:
                break
            if loops is not None and loop_free_length(loops, out, len(out) - 1) < len(out):
                break
    finally:
        for (k, v), (k0, v0) in zip(zip(buffer.k, buffer.v), kept):
            k[:, :, last] = k0
            v[:, :, last] = v0
    steps = len(out) + int(ended)
    return BlockResult(out, conf_out, steps, steps, ended)


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


def _positive(value: object, what: str) -> int:
    if not isinstance(value, int) or value < 1:
        raise CheckpointError(f"{what} must be a positive integer, not {value!r}")
    return value


class BlockInfiller(InfillBackend[SamplerOptions]):
    """diffill's block-diffusion model and its tokenizer, ready to infill; it keeps the
    encodings of recent contexts (`ContextCache`) for the next request."""

    model: DiffusionLM
    tokenizer: CodeTokenizer

    def __init__(
        self,
        ckpt: Checkpoint,
        name: str = "model",
        *,
        max_context_tokens: int | None = None,
        max_span_tokens: int = DEFAULT_MAX_SPAN_TOKENS,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
    ) -> None:
        """ckpt.layout: the layout the model was trained with (block_size, fim_order and
        the context_tokens it saw, the default budget).
        max_context_tokens: the context budget (None: what it was trained on).
        cache_entries: contexts whose encodings are kept (each costs one buffer)."""
        model, tokenizer, layout = ckpt.model, ckpt.tokenizer, ckpt.layout
        if tokenizer.vocab_size != model.cfg.vocab_size:
            raise InfillError("tokenizer and model disagree on the vocabulary size")
        where = f"{ckpt.folder or 'the model'}: the layout's"
        fim_order = layout.get("fim_order")
        if fim_order not in fim.ORDERS:
            raise CheckpointError(f"{where} fim_order must be one of {fim.ORDERS}: {fim_order!r}")
        block_size = _positive(layout.get("block_size"), f"{where} block_size")
        trained_context = _positive(
            layout.get("context_tokens", DEFAULT_CONTEXT_TOKENS), f"{where} context_tokens"
        )
        config = {**model.cfg.to_dict(), "block_size": block_size, "fim_order": fim_order}
        facts = ModelFacts.of(
            model, config, name, BLOCK_MODEL_TYPE, ckpt.folder, ckpt.info, precision=ckpt.precision
        )
        super().__init__(
            model, tokenizer, facts, max_context_tokens, max_span_tokens, trained_context
        )
        self.ids = fim_tokens(tokenizer)
        self.block_size = block_size
        self.fim_order = fim_order
        dtype = next(model.parameters()).dtype
        # Slots: the context and its sentinels, the longest middle, one block's scratch.
        capacity = self.max_context_tokens + 6 + max_span_tokens + block_size + 1
        self.cache = ContextCache(model, capacity, cache_entries, dtype, self.device)
        forbidden = torch.zeros(model.cfg.vocab_size, dtype=torch.bool)
        forbidden[sorted(tokenizer.special_ids - {self.ids.end})] = True
        self.forbidden = forbidden.to(self.device)
        self.steps = Steps(model)

    def warm_up(self) -> None:
        """Arrange CUDA graphs for the denoising step (CUDA) or compile it (CPU, when
        $DIFFILL_COMPILE=1 asks; reusing the on-disk cache), and run a request of two
        blocks (a full one and a short one) so that the first real request pays for
        neither. Its context stays in the cache,
        the least recently used entry (its buffer and graph are reused, not reallocated)."""
        self.steps.prepare(block_width=self.block_size)
        length = min(self.block_size + 1, self.max_span_tokens)
        self.infill("def f(x):\n    return ", "\n", length=length)

    @property
    def reuses_context(self) -> bool:
        return True

    def warm_context(self, prefix: str, suffix: str, cancel: CancelHandle | None = None) -> int:
        """Encode the context of (prefix, suffix) into the cache, decoding nothing (the
        Language Server does it while the user pauses typing); the tokens encoded."""
        ids = self.context(prefix, suffix)
        with self.cache.lock:
            _, computed = self.cache.encode(ids, cancel)
        return computed

    def context(self, prefix: str, suffix: str) -> list[int]:
        """The context ids of a request, trimmed on stable boundaries, ending with <mid>."""
        t = self.tokenizer
        pre_text, suf_text, pre_cut, suf_cut = window_text(prefix, suffix, self.max_context_tokens)
        pre, suf = t.encode_batch([pre_text, suf_text])
        budget = self.max_context_tokens - 5  # sentinels, <bof> and <eof>
        cut = fim.trim(pre, suf, budget)
        cut = fim.Trimmed(
            cut.prefix, cut.suffix, cut.prefix_cut or pre_cut, cut.suffix_cut or suf_cut
        )
        return fim.context_ids(cut, self.fim_order, self.ids)

    @torch.no_grad()
    def logits(self, token_ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) float32 logits of `token_ids` (B, T) read left to right, position i
        predicting token i (the causal model's output at i-1 moved to i; position 0 keeps
        its own, as nothing predicts it).

        valid: (B, T) bool; False marks right padding (it comes after every real token, so
        a causal pass never lets a real token see it).
        """
        token_ids = token_ids.to(self.device)
        B, T = token_ids.shape
        positions = torch.arange(T, device=self.device).expand(B, T)
        h, _ = self.model.hidden(token_ids, positions, causal=True)
        out = self.model.token_logits(h).float()
        return torch.cat((out[:, :1], out[:, :-1]), dim=1)

    def length_distribution(self, prefix: str, suffix: str) -> None:
        """None: the length comes out of decoding (the model writes <end>)."""
        return None

    # -- the steps `InfillBackend` leaves to a backend ------------------------------------

    def _sentinels(self) -> tuple[int, int]:
        return self.tokenizer.bof_id, self.tokenizer.eof_id

    def _options(self, sampler_options: dict[str, Any]) -> SamplerOptions:
        return SamplerOptions.of(**sampler_options)

    def _run(self, call: Call[SamplerOptions]) -> list[InfillResult]:
        """One request after another: each finds its context in the cache or encodes it,
        then decodes its middle block by block (`decode`)."""
        requests, options, on_step, cancel = call.requests, call.options, call.on_step, call.cancel
        t = self.tokenizer
        results = []
        t0 = time.perf_counter()
        for i, r in enumerate(requests):
            canvas = self._given_canvas(i, r, options.seed)
            ctx = self.context(r.prefix, r.suffix)
            stream = None
            if on_step is not None and i == 0:
                stream = lambda ids, step: on_step(t.decode(ids), step)  # noqa: E731
            with self.cache.lock:
                entry, computed = self.cache.encode(ctx, cancel)
                if len(entry.ids) < len(ctx):
                    raise Cancelled()
                res = decode(
                    self.model,
                    entry,
                    len(ctx),
                    ids=self.ids,
                    block_size=self.block_size,
                    forbidden=self.forbidden,
                    options=options,
                    canvas=canvas,
                    max_tokens=r.length or self.max_span_tokens,
                    min_tokens=r.length or 0,
                    stops=t.line_break_ids if r.one_line else frozenset(),
                    loops=t if r.cuts_loops else None,
                    on_step=stream,
                    cancel=cancel,
                    runner=self.steps,
                )
            text, n = middle_text(t, res.tokens, r.one_line, r.cuts_loops)
            tokens, conf = res.tokens[:n], res.confidence[:n]
            results.append(
                InfillResult(
                    text=text,
                    tokens=tokens,
                    confidence=sum(conf) / len(conf) if conf else 1.0,
                    token_confidence=conf,
                    steps=res.steps,
                    seconds=time.perf_counter() - t0,
                    length=len(tokens),
                    candidates=[len(tokens)],
                    score=sum(math.log(max(c, 1e-9)) for c in conf) / max(1, len(conf)),
                    context_tokens=len(ctx),
                    context_computed=computed,
                )
            )
        # Like the other backends, a batch reports the time of the whole call.
        seconds = time.perf_counter() - t0
        return [dataclasses.replace(r, seconds=seconds) for r in results]
