"""Iterative parallel unmasking of a canvas (MaskGIT, Chang et al. 2022; LLaDA's
low-confidence remasking, Nie et al. 2025; Fast-dLLM's confidence threshold, Wu et al. 2025).

Each step runs the network once over the canvas, proposes a token for every masked
position, and commits the proposals it is surest of: a share of the remaining masks when
a step budget is set, or every proposal above a confidence threshold (always at least one).
Optionally it re-masks committed tokens the model has since lost faith in (self-correction).

The context's keys and values are computed once per request (`Context.encode`) into a
preallocated buffer and reused at every step: the canvas writes its own keys and values into
the room after them and attends to the buffer up to its end, so no step copies the cache.
Because context positions never attend to a canvas (see `backends.transformer`), this is
exact, and `use_cache=False` recomputes everything each step to prove it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Literal, Protocol

import torch

from .backends.steps import Steps
from .backends.transformer import DiffusionLM, KVBuffer, group_mask


class Cancelled(Exception):
    """Raised between steps when the cancellation handle is set."""


class CancelHandle(Protocol):
    def is_set(self) -> bool: ...


ORDERS = ("confidence", "margin", "entropy")


@dataclass(frozen=True)
class SamplerOptions:
    """How to denoise.

    steps: fixed step budget (>= 1); when None, `threshold` decides how many to commit.
    threshold: in (0, 1]; commit every masked position whose confidence exceeds it.
    max_steps: threshold mode only; commit enough per step to finish within this many
        steps (a model unsure of everything would otherwise take one step per token).
    order: which proposals count as surest: "confidence" (probability of the proposal),
        "margin" (top-1 minus top-2 probability) or "entropy" (lowest entropy).
    temperature: 0 is greedy; > 0 samples from softmax(logits / temperature).
    top_p: in (0, 1]; nucleus sampling when temperature > 0.
    remask: in [0, 1); committed tokens whose probability falls below it are masked
        again (never more than the step commits, so the mask count still falls).
    seed: seeds sampling and every random choice; same inputs and seed, same output.
    length_candidates: when the model picks a span's length, how many lengths are decoded
        side by side (the median of the length head's distribution, then its 80% and 95%
        quantiles); the best-scoring canvas wins.
    """

    steps: int | None = None
    threshold: float = 0.9  # the defaults are the "balanced" preset
    max_steps: int = 32
    order: Literal["confidence", "margin", "entropy"] = "confidence"
    temperature: float = 0.0
    top_p: float = 1.0
    remask: float = 0.0
    seed: int = 0
    length_candidates: int = 2

    def __post_init__(self) -> None:
        if self.length_candidates not in (1, 2, 3):
            raise ValueError(f"length_candidates must be 1, 2 or 3, not {self.length_candidates!r}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise ValueError(f"steps must be a positive integer or None, not {self.steps!r}")
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, not {self.max_steps!r}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold!r}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {self.order!r}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, not {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p!r}")
        if not 0 <= self.remask < 1:
            raise ValueError(f"remask must be in [0, 1), not {self.remask!r}")

    @classmethod
    def of(cls, **kwargs) -> SamplerOptions:
        """Build from keyword options; an unknown name raises ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"unknown sampler option(s) {unknown}; known: {sorted(known)}")
        return cls(**kwargs)


# Speed settings users choose by name (CLI --preset, server setting `diffill.preset`);
# each is a set of SamplerOptions fields. Measured trade-offs are in docs/speed.md.
PRESETS: dict[str, dict] = {
    # Commit only near-certain tokens, up to one step per token; three lengths tried.
    "quality": {"threshold": 0.98, "max_steps": 256, "length_candidates": 3},
    "balanced": {"threshold": 0.9, "max_steps": 32, "length_candidates": 2},  # the defaults
    # Commit anything fairly likely, finish any span within 12 steps, one length.
    "fast": {"threshold": 0.7, "max_steps": 12, "length_candidates": 1},
}


@dataclass
class Context:
    """Clean context tokens for N requests, padded to one length, and their keys/values.

    kv: after `encode`, a preallocated `KVBuffer` (N rows) whose slots 0..Tc-1 hold every
        layer's context keys and values and whose slots Tc.. are room for a canvas: each
        denoising step writes the canvas's keys/values there and attends to the slots up
        to its end, so nothing of the context is copied per step.
    """

    tokens: torch.Tensor  # (N, Tc) long
    positions: torch.Tensor  # (N, Tc) long
    valid: torch.Tensor  # (N, Tc) bool; False is batch padding
    kv: KVBuffer | None = None

    @torch.no_grad()
    def encode(
        self, model: DiffusionLM, room: int | None = None, cancel: CancelHandle | None = None
    ) -> Context:
        """Compute the keys and values of every layer once (context sees only context),
        into a buffer with `room` slots after them for the canvas (default: the longest
        span the model has positions for).

        cancel: checked before every layer; once set, raises `Cancelled` (the buffer is
            then incomplete, and `kv` None)."""
        N, Tc = self.tokens.shape
        if Tc == 0:
            self.kv = None
            return self
        room = model.cfg.span_positions if room is None else room
        dtype = model.embed.weight.dtype
        self.kv = KVBuffer(model.cfg, N, Tc + room, dtype, self.tokens.device)
        # Without padding every position sees every other: no mask lets attention take its
        # fastest kernel (about twice the speed of a masked one on a CPU).
        mask = None if bool(self.valid.all()) else group_mask(torch.where(self.valid, 0, -1))

        def before_layer() -> None:
            if cancel is not None and cancel.is_set():
                self.kv = None
                raise Cancelled()

        model.hidden(self.tokens, self.positions, mask, self.kv, 0, before_layer=before_layer)
        return self

    def rows(self, index: torch.Tensor) -> Context:
        """The context of each canvas row (`index` (R,) into the N requests). Rows share
        nothing: each gets its own room for a canvas, copied from its request's once
        (`KVBuffer.rows`), or views when `index` is an ascending run of rows."""
        kv = None if self.kv is None else self.kv.rows(index)
        if self.tokens.shape[0] == 1 or self.tokens.stride(0) == 0:
            n = len(index)
            tokens, positions, valid = (
                t[:1].expand(n, -1) for t in (self.tokens, self.positions, self.valid)
            )
            return Context(tokens, positions, valid, kv)
        return Context(self.tokens[index], self.positions[index], self.valid[index], kv)


def canvas_mask(
    context_valid: torch.Tensor,  # (R, Tc) bool
    valid: torch.Tensor,  # (R, L) bool
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """The attention mask (R, 1, L, Tc + L) of canvas rows over their context and
    themselves, as an additive bias in `dtype` (SDPA's fastest masked form: a bool mask is
    converted on every call); None when every position is valid (no mask at all)."""
    if bool(context_valid.all() & valid.all()):
        return None
    R, L = valid.shape
    keys_valid = torch.cat((context_valid, valid), dim=1)  # (R, Tc + L)
    allowed = keys_valid[:, None, None, :].expand(R, 1, L, keys_valid.shape[1]).clone()
    # invalid canvas rows still need one key to attend to (their output is ignored)
    eye = torch.eye(L, dtype=torch.bool, device=valid.device)
    allowed[..., context_valid.shape[1] :] |= eye
    bias = torch.zeros(allowed.shape, dtype=dtype, device=valid.device)
    return bias.masked_fill_(~allowed, float("-inf"))


def _cached_hidden(
    model: DiffusionLM,
    context: Context,
    tokens: torch.Tensor,  # (R, L) long
    positions: torch.Tensor,  # (R, L) long
    mask: torch.Tensor | None,  # from `canvas_mask`
    runner: Steps | None = None,
) -> torch.Tensor:
    """Hidden states (R, L, C) of canvas rows written after their context in its buffer
    (by `runner`, compiled or not, when given)."""
    assert context.kv is not None and context.kv.batch == tokens.shape[0]
    Tc = context.tokens.shape[1]
    if Tc + tokens.shape[1] > context.kv.capacity:
        raise ValueError(
            f"a canvas of {tokens.shape[1]} tokens does not fit the context's buffer "
            f"({context.kv.capacity - Tc} slots of room)"
        )
    if runner is not None:
        return runner.canvas(tokens, positions, mask, context.kv, Tc)
    h, _ = model.hidden(tokens, positions, mask, context.kv, Tc)
    return h


@torch.no_grad()
def canvas_hidden(
    model: DiffusionLM,
    context: Context,
    tokens: torch.Tensor,  # (R, L) long
    positions: torch.Tensor,  # (R, L) long
    valid: torch.Tensor,  # (R, L) bool
    use_cache: bool = True,
) -> torch.Tensor:
    """Hidden states (R, L, C) of canvas rows attending to their context and themselves;
    `use_cache=False` recomputes the context too (the reference the buffer must equal)."""
    if use_cache and context.kv is not None:
        mask = canvas_mask(context.valid, valid, model.embed.weight.dtype)
        return _cached_hidden(model, context, tokens, positions, mask)
    groups = torch.cat((torch.where(context.valid, 0, -1), torch.where(valid, 1, -1)), dim=1)
    h, _ = model.hidden(
        torch.cat((context.tokens, tokens), dim=1),
        torch.cat((context.positions, positions), dim=1),
        group_mask(groups),
    )
    return h[:, context.tokens.shape[1] :]


@dataclass
class Step:
    """An intermediate state, passed to `on_step` after each step."""

    index: int  # 1-based step number
    tokens: torch.Tensor  # (R, L) canvas after this step
    masked: int  # positions still masked, over all rows


@dataclass
class DenoiseResult:
    tokens: torch.Tensor  # (R, L) fully unmasked canvas
    confidence: torch.Tensor  # (R, L) probability of each committed token when committed
    steps: int
    score: torch.Tensor  # (R,) mean log-confidence of generated positions

    @classmethod
    def scored(
        cls, tokens: torch.Tensor, confidence: torch.Tensor, generated: torch.Tensor, steps: int
    ) -> DenoiseResult:
        """The result, scored by the mean log-confidence of the positions generated."""
        n_gen = generated.sum(1).clamp_min(1)
        score = (confidence.clamp_min(1e-9).log() * generated).sum(1) / n_gen
        return cls(tokens, confidence, steps, score)


def propose(
    logits: torch.Tensor, options: SamplerOptions, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Proposal tokens, their probability, and the ordering score, for logits (..., V)."""
    logits = logits.float()
    if options.temperature > 0:
        logits = logits / options.temperature
    probs = torch.softmax(logits, dim=-1)
    if options.temperature > 0:
        p = probs
        if options.top_p < 1:
            sorted_p, order = p.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < options.top_p  # always keeps the top one
            p = torch.zeros_like(p).scatter(-1, order, sorted_p * keep)
            p = p / p.sum(-1, keepdim=True)
        # The generator lives on the CPU, so a seed means the same thing on every device.
        x0 = torch.multinomial(p.reshape(-1, p.shape[-1]).cpu(), 1, generator=gen)
        x0 = x0.view(p.shape[:-1]).to(p.device)
    else:
        x0 = probs.argmax(-1)
    conf = probs.gather(-1, x0[..., None])[..., 0]
    if options.order == "confidence":
        rank = conf
    elif options.order == "margin":
        top2 = probs.topk(2, dim=-1).values
        rank = top2[..., 0] - top2[..., 1]
    else:
        rank = (probs * probs.clamp_min(1e-12).log()).sum(-1)  # negative entropy
    return x0, conf, rank


def commit_step(
    tokens: torch.Tensor,
    masked: torch.Tensor,
    confidence: torch.Tensor,
    generated: torch.Tensor,
    proposal: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    step: int,
    options: SamplerOptions,
    mask_id: int,
    probs_now: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step's commit rule, shared by every sampler; returns (tokens, masked, confidence).

    proposal: (x0, conf, rank), each (R, L), from `propose`.
    probs_now: (R, L) the model's current probability of every token on the canvas; needed
        only for remasking.
    With a step budget, the surest share of the remaining masks is committed; with a
    threshold, every proposal above it, and never so few that `max_steps` would be
    exceeded. Remasking sends committed tokens the model now doubts back under a mask.
    """
    x0, conf, rank = proposal
    L = tokens.shape[1]
    device = tokens.device
    n_masked = masked.sum(1)  # (R,)
    rank = torch.where(masked, rank, float("-inf"))
    if options.steps is not None:
        steps_left = max(1, options.steps - step + 1)
        n_commit = torch.ceil(n_masked / steps_left).long()
    else:
        steps_left = max(1, options.max_steps - step + 1)
        floor = torch.ceil(n_masked / steps_left).long().clamp_min(1)
        n_commit = torch.maximum(((conf > options.threshold) & masked).sum(1), floor)
    n_commit = torch.minimum(n_commit, n_masked)
    order = rank.argsort(dim=1, descending=True)
    take = torch.arange(L, device=device)[None, :] < n_commit[:, None]
    chosen = torch.zeros_like(masked).scatter_(1, order, take) & masked

    if options.remask > 0 and probs_now is not None:
        # Self-correction: at most n_commit - 1 per row, so the mask count still falls.
        doubt = generated & ~masked & (probs_now < options.remask)
        doubt_rank = torch.where(doubt, -probs_now, float("-inf"))
        n_remask = torch.minimum(doubt.sum(1), n_commit - 1)
        d_order = doubt_rank.argsort(dim=1, descending=True)
        d_take = torch.arange(L, device=device)[None, :] < n_remask[:, None]
        remask = torch.zeros_like(masked).scatter_(1, d_order, d_take) & doubt
        tokens = torch.where(remask, torch.full_like(tokens, mask_id), tokens)
        masked = masked | remask
        confidence = torch.where(remask, 0.0, confidence)

    tokens = torch.where(chosen, x0, tokens)
    confidence = torch.where(chosen, conf, confidence)
    return tokens, masked & ~chosen, confidence


class Unmasking:
    """One denoising run between its steps, the same for every sampler: the canvas, which
    positions are still masked and which this run generates, each committed token's
    confidence, the step count and the sampling generator."""

    def __init__(
        self,
        canvas: torch.Tensor,  # (R, L)
        *,
        mask_id: int,
        valid: torch.Tensor | None,  # (R, L) bool, or None for all
        options: SamplerOptions,
    ) -> None:
        R, L = canvas.shape
        device = canvas.device
        self.valid = torch.ones(R, L, dtype=torch.bool, device=device) if valid is None else valid
        self.tokens = canvas.clone()
        self.masked = (self.tokens == mask_id) & self.valid
        self.generated = self.masked.clone()  # positions this run owns; given tokens stay
        self.confidence = torch.where(self.masked, 0.0, 1.0).to(device)
        # The generator lives on the CPU, so a seed means the same thing on every device.
        self.generator = torch.Generator(device="cpu").manual_seed(options.seed)
        self.options = options
        self.mask_id = mask_id
        self.step = 0

    def next_step(self, cancel: CancelHandle | None) -> bool:
        """Start the next step (True) while masks remain; raises `Cancelled` when `cancel`
        is set."""
        if not bool(self.masked.any()):
            return False
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        self.step += 1
        return True

    def commit(
        self,
        proposal: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        probs_now: torch.Tensor | None,
        on_step: Callable[[Step], None] | None,
    ) -> None:
        """Apply `commit_step` to this step's (R, L) proposal and report the step."""
        self.tokens, self.masked, self.confidence = commit_step(
            self.tokens,
            self.masked,
            self.confidence,
            self.generated,
            proposal,
            self.step,
            self.options,
            self.mask_id,
            probs_now,
        )
        if on_step is not None:
            on_step(Step(self.step, self.tokens.clone(), int(self.masked.sum())))

    def result(self) -> DenoiseResult:
        return DenoiseResult.scored(self.tokens, self.confidence, self.generated, self.step)


@torch.no_grad()
def denoise(
    model: DiffusionLM,
    canvas: torch.Tensor,
    positions: torch.Tensor,
    context: Context,
    *,
    mask_id: int,
    valid: torch.Tensor | None = None,
    forbidden_ids: tuple[int, ...] = (),
    options: SamplerOptions = SamplerOptions(),
    on_step: Callable[[Step], None] | None = None,
    cancel: CancelHandle | None = None,
    use_cache: bool = True,
    runner: Steps | None = None,
) -> DenoiseResult:
    """Unmask every `mask_id` position of `canvas` and return the finished canvas.

    model: the network, in eval mode.
    canvas: (R, L) token ids; `mask_id` marks the positions to generate, every other token
        is given and never changes.
    positions: (R, L) rotary positions of the canvas.
    context: the rows' context (`Context.rows`), encoded when `use_cache` is True.
    mask_id: id of the mask token.
    valid: (R, L) bool; False marks padding of rows shorter than L (left untouched).
    forbidden_ids: token ids never to generate (mask and other control tokens).
    options: `SamplerOptions`.
    on_step: called with a `Step` after every step.
    cancel: anything with `is_set()`; checked before every step, raises `Cancelled`.
    use_cache: reuse the context's keys/values; False recomputes them each step.
    runner: runs each cached step (eager, or compiled once `Steps.prepare` ran); None runs
        the network eagerly.
    """
    R, L = canvas.shape
    device = canvas.device
    run = Unmasking(canvas, mask_id=mask_id, valid=valid, options=options)
    valid = run.valid
    active = torch.arange(R, device=device)
    row_context = context
    cached = use_cache and context.kv is not None
    dtype = model.embed.weight.dtype
    # Made once per set of active rows, not per step.
    mask = canvas_mask(context.valid, valid, dtype) if cached else None
    while run.next_step(cancel):
        tokens, masked = run.tokens, run.masked
        # Finished rows (other length candidates, other requests) drop out of the batch.
        still = masked[active].any(1)
        if not bool(still.all()):
            active = active[still]
            row_context = context.rows(active)
            mask = canvas_mask(row_context.valid, valid[active], dtype) if cached else None
        if cached:
            h = _cached_hidden(model, row_context, tokens[active], positions[active], mask, runner)
        else:
            h = canvas_hidden(
                model, row_context, tokens[active], positions[active], valid[active], False
            )
        m_act = masked[active]
        logits_act = None
        if options.remask > 0:  # needs the probability of committed tokens too
            logits_act = model.token_logits(h)  # (A, L, V)
            logits = logits_act[m_act]
        else:
            # Only masked positions need the vocabulary projection.
            logits = model.token_logits(h[m_act])  # (N, V)
        if forbidden_ids:
            logits[..., list(forbidden_ids)] = float("-inf")
        x0n, confn, rankn = propose(
            logits.cpu() if device.type != "cpu" else logits, options, run.generator
        )
        # Rows are in order and every masked position lies in an active row, so the masked
        # positions of the whole canvas line up with the proposals.
        x0 = tokens.clone()
        x0[masked] = x0n.to(device)
        conf = torch.zeros(R, L, device=device)
        conf[masked] = confn.to(device)
        rank = torch.full((R, L), float("-inf"), device=device)
        rank[masked] = rankn.to(device)
        probs_now = None
        if logits_act is not None:
            probs_now = torch.ones(R, L, device=device)
            probs_now[active] = torch.softmax(logits_act.float(), -1).gather(
                -1, tokens[active][..., None]
            )[..., 0]
        run.commit((x0, conf, rank), probs_now, on_step)
    return run.result()
