"""What every backend does between a request and its result, written once.

`InfillBackend` is the base of every backend: it turns the arguments of `infill` and
`infill_batch` into `InfillRequest`s, cuts each context to the budget (keeping the tokens
nearest the gap, with the file's sentinels only where the file really starts or ends),
and counts tokens. `CanvasBackend` adds what the denoising backends share: checking
requests, the canvases a request asks for (fresh candidate lengths, a touch-up of the
original middle, or a repair that remasks only the tokens near an error), streaming the
intermediate text, the choice among candidates and the results.

Base classes rather than free functions alone, because the order of these steps is part
of the contract (the same request gives the same canvases, seeds and choice on every
backend); a backend supplies only what differs: its sentinels, how it encodes contexts,
how it reads span lengths and how it denoises. The steps themselves are functions here
too (`trim_context`, `validate`, `touch_up_canvas`, ...), so each can be tested and
reused alone.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import torch

from .backend import InfillError, InfillRequest, InfillResult, ModelFacts
from .sampler import CancelHandle, DenoiseResult, SamplerOptions, Step
from .tokenizer import ByteTokens

# Context budget of diffill's own models unless `load` is given one.
DEFAULT_CONTEXT_TOKENS = 2048
# Quantiles of the predicted length distribution tried as candidate canvas lengths. The
# longer ones carry slack the model fills with <pad>, which covers an under-estimate.
LENGTH_QUANTILES = (0.5, 0.8, 0.95)

# A loop: a unit of at most LOOP_UNIT_TOKENS tokens written LOOP_COPIES times in a row,
# and LOOP_MIN_TOKENS tokens at the least (a one-token unit must come four times). Small
# models fall into them (`tensor_to_to_to_to`, `a, a, a, a`: a third of v1's single lines
# on a held-out dev set); real code seldom holds one (0.12% of 20,000 lines of the
# training corpus, `0, 0, 0, 0` and the like). Units of whitespace alone (indentation by
# tabs) never count.
LOOP_UNIT_TOKENS = 8
LOOP_COPIES = 3
LOOP_MIN_TOKENS = 4

ContextIds = tuple[list[int], list[int]]  # one request's prefix and suffix ids
OnStep = Callable[[str, Step], None]


def trim_context(
    prefix: list[int], suffix: list[int], budget: int
) -> tuple[list[int], list[int], bool, bool]:
    """Prefix and suffix ids cut to `budget` tokens, keeping those nearest the gap (up to a
    third for the suffix when both are long), and whether each was cut."""
    if len(prefix) + len(suffix) <= budget:
        return prefix, suffix, False, False
    keep_suf = min(len(suffix), budget // 3)
    keep_pre = min(len(prefix), budget - keep_suf)
    keep_suf = budget - keep_pre
    return (
        prefix[len(prefix) - keep_pre :],
        suffix[:keep_suf],
        len(prefix) > keep_pre,
        len(suffix) > keep_suf,
    )


def validate(requests: Sequence[InfillRequest], max_span_tokens: int) -> None:
    """InfillError naming the first thing wrong with any of `requests`."""
    for r in requests:
        if not 0 < r.strength <= 1:
            raise InfillError(f"strength must be in (0, 1], not {r.strength!r}")
        if r.repair is not None and r.middle is None:
            raise InfillError("repair ranges need the original middle text")
        if r.length is not None and not 0 < r.length <= max_span_tokens:
            raise InfillError(
                f"length must be between 1 and {max_span_tokens} tokens, not {r.length!r}"
            )


def needs_length(r: InfillRequest) -> bool:
    """Whether the model must choose this request's span length."""
    if r.length is not None:
        return False
    return r.middle is None or (r.repair is None and r.strength >= 1)


def candidate_lengths(probs: torch.Tensor, max_span_tokens: int, count: int) -> list[int]:
    """Distinct canvas lengths at the first `count` of `LENGTH_QUANTILES` of `probs` (S,),
    each in 1..max_span_tokens."""
    cdf = probs.cumsum(0)
    out: list[int] = []
    for q in LENGTH_QUANTILES[:count]:
        n = int(torch.searchsorted(cdf, torch.tensor(q)).clamp(1, max_span_tokens))
        if n not in out:
            out.append(n)
    return out


def touch_up_canvas(
    ids: list[int], strength: float, seed: int, mask_id: int, max_span_tokens: int
) -> list[int]:
    """The original middle's `ids` with a `strength` share re-noised (chosen by `seed`),
    plus a little masked slack at the end so the text may grow."""
    slack = min(len(ids) // 8 + 2, max_span_tokens - len(ids))
    if slack < 0:
        raise InfillError(
            f"the text to rewrite is {len(ids)} tokens; the model's limit is {max_span_tokens}"
        )
    g = torch.Generator().manual_seed(seed)
    n_noise = max(1, math.ceil(strength * len(ids))) if ids else 0
    picks = set(torch.randperm(len(ids), generator=g)[:n_noise].tolist())
    return [mask_id if k in picks else x for k, x in enumerate(ids)] + [mask_id] * slack


def remask_canvas(
    ids: list[int],
    spans: list[tuple[int, int]],
    ranges: Sequence[tuple[int, int]],
    mask_id: int,
    max_span_tokens: int,
) -> list[int]:
    """The middle's `ids` (each covering the characters `spans`) with the tokens
    overlapping `ranges`, and one neighbour on each side (a fix often needs the token next
    to the error), masked, and two masked slots of slack after each masked run."""
    hit = [any(a < e + 1 and s < b + 1 for s, e in ranges) for a, b in spans]
    out: list[int] = []
    for k, x in enumerate(ids):
        near = hit[k] or (k > 0 and hit[k - 1]) or (k + 1 < len(ids) and hit[k + 1])
        out.append(mask_id if near else x)
        if hit[k] and (k + 1 == len(ids) or not hit[k + 1]):
            out += [mask_id] * 2
    if not ids:
        out = [mask_id] * 4
    if len(out) > max_span_tokens:
        raise InfillError(
            f"the text to repair is {len(out)} tokens; the model's limit is {max_span_tokens}"
        )
    return out


def cut_at_line_break(tokenizer: ByteTokens, ids: Sequence[int]) -> tuple[str, int]:
    """The text of `ids` up to its first line break, and how many of `ids` lie wholly
    before it (a token such as `):\n` gives the text its `):` but is not counted)."""
    head = bytearray()
    for k, x in enumerate(ids):
        piece = tokenizer.token_bytes(x)
        if x in tokenizer.line_break_ids:
            cut = min(i for i in (piece.find(b"\n"), piece.find(b"\r")) if i >= 0)
            return (head + piece[:cut]).decode("utf-8", errors="replace"), k
        head += piece
    return head.decode("utf-8", errors="replace"), len(ids)


def loop_repeats(tokenizer: ByteTokens, ids: Sequence[int]) -> int:
    """How many trailing tokens of `ids` repeat the unit before them, when `ids` ends in
    a loop (see LOOP_UNIT_TOKENS); 0 when it does not."""
    n = len(ids)
    for p in range(1, LOOP_UNIT_TOKENS + 1):
        run = p * max(LOOP_COPIES, -(-LOOP_MIN_TOKENS // p))
        if run > n:
            break
        tail = ids[n - run :]
        if all(tail[i] == tail[i - p] for i in range(p, run)) and not all(
            tokenizer.token_bytes(x).isspace() for x in tail[:p]
        ):
            return run - p
    return 0


def loop_free_length(tokenizer: ByteTokens, ids: Sequence[int], start: int = 0) -> int:
    """How many of `ids` come before the repeats of the first loop that ends after index
    `start` (its unit written once is kept), or all of them when none does.

    `start` lets a decoder that checked `ids[:start]` already look at its new tokens only.
    """
    for n in range(start + 1, len(ids) + 1):
        extra = loop_repeats(tokenizer, ids[:n])
        if extra:
            return n - extra
    return len(ids)


def middle_text(
    tokenizer: ByteTokens, ids: Sequence[int], one_line: bool, cut_loops: bool = False
) -> tuple[str, int]:
    """The text of a written middle `ids` and how many of them the result keeps: all, or
    those before its first loop's repeats (`cut_loops`, `loop_free_length`), and for a
    one-line request those before its first line break (`cut_at_line_break`)."""
    if cut_loops:
        ids = ids[: loop_free_length(tokenizer, ids)]
    if one_line:
        return cut_at_line_break(tokenizer, ids)
    return tokenizer.decode(ids), len(ids)


def pick(
    rows: list[int],
    score: torch.Tensor,
    accept: Callable[[str], bool] | None,
    text_of: Callable[[int], str],
) -> int:
    """The best-scored of a request's candidate `rows`, among those `accept` passes when
    it passes any (it is asked only when there is a choice)."""
    if accept is not None and len(rows) > 1:
        rows = [j for j in rows if accept(text_of(j))] or rows
    return max(rows, key=lambda j: float(score[j]))


OptionsT = TypeVar("OptionsT")  # what a backend makes of the sampler options


@dataclass(frozen=True)
class Call(Generic[OptionsT]):
    """One `infill` or `infill_batch` call as a backend runs it: the requests (checked),
    the sampler options as the backend reads them, the step callback, the cancel handle."""

    requests: list[InfillRequest]
    options: OptionsT
    on_step: OnStep | None
    cancel: CancelHandle | None


EncodedT = TypeVar("EncodedT")  # a canvas backend's encoded contexts


class InfillBackend(ABC, Generic[OptionsT]):
    """The part of `Backend` every backend shares; see the module comment."""

    model: torch.nn.Module
    tokenizer: ByteTokens
    facts: ModelFacts

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: ByteTokens,
        facts: ModelFacts,
        max_context_tokens: int | None,
        max_span_tokens: int,
        default_context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    ) -> None:
        """The network (put in eval mode), its tokenizer and facts, and the limits.
        max_context_tokens: the budget `load` was given, None for `default_context_tokens`."""
        if max_context_tokens is None:
            max_context_tokens = default_context_tokens
        if not isinstance(max_context_tokens, int) or max_context_tokens < 1:
            raise InfillError(
                f"max_context_tokens must be a positive integer, not {max_context_tokens!r}"
            )
        self._max_context_tokens = max_context_tokens
        self._max_span_tokens = max_span_tokens
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.facts = facts
        # What the server's status line reads today; `facts` says the same for callers.
        self.name = facts.name
        self.device = next(model.parameters()).device  # where inputs go

    @property
    def max_context_tokens(self) -> int:
        return self._max_context_tokens

    @property
    def max_span_tokens(self) -> int:
        return self._max_span_tokens

    def infill(
        self,
        prefix: str,
        suffix: str = "",
        *,
        middle: str | None = None,
        strength: float = 1.0,
        length: int | None = None,
        repair: Sequence[tuple[int, int]] | None = None,
        on_step: OnStep | None = None,
        cancel: CancelHandle | None = None,
        accept: Callable[[str], bool] | None = None,
        one_line: bool = False,
        **sampler_options: Any,
    ) -> InfillResult:
        """Generate the text between `prefix` and `suffix`; see `Backend.infill`."""
        request = InfillRequest(
            prefix,
            suffix,
            middle,
            strength,
            length,
            tuple(repair) if repair is not None else None,
            accept,
            one_line,
        )
        validate([request], self.max_span_tokens)
        return self._run(Call([request], self._options(sampler_options), on_step, cancel))[0]

    def infill_batch(
        self,
        pairs: Sequence[tuple[str, str] | InfillRequest],
        *,
        length: int | None = None,
        cancel: CancelHandle | None = None,
        accept: Callable[[str], bool] | None = None,
        one_line: bool = False,
        **sampler_options: Any,
    ) -> list[InfillResult]:
        """`infill` for many (prefix, suffix) pairs or `InfillRequest`s in one batch."""
        requests = [
            p
            if isinstance(p, InfillRequest)
            else InfillRequest(p[0], p[1], length=length, one_line=one_line)
            for p in pairs
        ]
        if not requests:
            return []
        if accept is not None:
            requests = [r if r.accept else replace(r, accept=accept) for r in requests]
        validate(requests, self.max_span_tokens)
        return self._run(Call(requests, self._options(sampler_options), None, cancel))

    def _given_canvas(self, i: int, r: InfillRequest, seed: int) -> list[int] | None:
        """The canvas of a request that brings its middle: a repair (its ranges
        under masks) or a touch-up (a share re-noised, seeded per request); else None."""
        t = self.tokenizer
        if r.middle is not None and r.repair is not None:
            ids, spans = t.encode_with_offsets(r.middle)
            return remask_canvas(ids, spans, r.repair, t.mask_id, self.max_span_tokens)
        if r.middle is not None and r.strength < 1:
            ids = t.encode(r.middle)
            return touch_up_canvas(ids, r.strength, seed + i, t.mask_id, self.max_span_tokens)
        return None

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def warm_up(self) -> None:
        """One small request, so that the first real one does not pay for first
        allocations and kernel choices; backends that compile their step do it here."""
        self.infill("def f(x):\n    return ", "\n", length=2)

    @property
    def reuses_context(self) -> bool:
        return False  # each request encodes its own context

    def warm_context(self, prefix: str, suffix: str, cancel: CancelHandle | None = None) -> int:
        return 0

    def _context(self, prefix: str, suffix: str) -> ContextIds:
        """Prefix and suffix ids, cut to the budget nearest the gap, with the backend's
        sentinels where the file really starts or ends."""
        t = self.tokenizer
        pre, suf, pre_cut, suf_cut = trim_context(
            t.encode(prefix), t.encode(suffix), self.max_context_tokens
        )
        start, end = self._sentinels()
        if start is not None and not pre_cut:
            pre = [start, *pre]
        if end is not None and not suf_cut:
            suf = [*suf, end]
        return pre, suf

    @abstractmethod
    def _sentinels(self) -> tuple[int | None, int | None]:
        """Token ids that mark the start of the file (before the prefix) and its end
        (after the suffix), or None where the model uses none."""

    @abstractmethod
    def _options(self, sampler_options: dict[str, Any]) -> OptionsT:
        """The sampler options of a call, checked (ValueError naming an unknown one)."""

    @abstractmethod
    def _run(self, call: Call[OptionsT]) -> list[InfillResult]:
        """A result for every request of the call, in order."""

    @abstractmethod
    def logits(
        self, token_ids: torch.Tensor, valid: torch.Tensor | None = None
    ) -> torch.Tensor: ...

    @abstractmethod
    def length_distribution(self, prefix: str, suffix: str) -> torch.Tensor | None: ...


@dataclass
class Row:
    """One canvas to denoise: the request it serves and its tokens (masks to fill)."""

    request: int
    canvas: list[int]


class CanvasBackend(InfillBackend[SamplerOptions], Generic[EncodedT]):
    """A backend that denoises canvases: requests become canvas rows (a few candidate
    lengths when the model chooses the length), decoded as one batch; each request keeps
    its best-scored candidate."""

    # Tokens the model writes in the unused end of a canvas; dropped from results.
    slack_ids: frozenset[int]

    def length_distribution(self, prefix: str, suffix: str) -> torch.Tensor:
        """Probabilities over span lengths 0, 1, ... as the model reads them for this gap."""
        return self._length_probs(self._encode([self._context(prefix, suffix)]), [0])[0]

    def _options(self, sampler_options: dict[str, Any]) -> SamplerOptions:
        return SamplerOptions.of(**sampler_options)

    def _candidate_count(self, options: SamplerOptions) -> int:
        """How many candidate lengths a request whose length the model chooses gets."""
        return options.length_candidates

    @abstractmethod
    def _encode(self, contexts: list[ContextIds]) -> EncodedT:
        """The contexts in the form `_length_probs` and `_denoise` take."""

    def _computed(self, encoded: EncodedT, i: int, seen: int) -> int:
        """How many of request i's `seen` context tokens this call encoded (the rest were
        kept from an earlier call); a backend that keeps no context encodes them all."""
        return seen

    @abstractmethod
    def _length_probs(self, encoded: EncodedT, need: list[int]) -> torch.Tensor:
        """(N, S) probabilities over span lengths for the N encoded contexts; only the rows
        in `need` are read."""

    @abstractmethod
    def _denoise(
        self,
        encoded: EncodedT,
        rows: list[Row],
        options: SamplerOptions,
        on_step: Callable[[Step], None] | None,
        cancel: CancelHandle | None,
    ) -> DenoiseResult:
        """Unmask every row (row j's context is `encoded` entry rows[j].request)."""

    def _run(self, call: Call[SamplerOptions]) -> list[InfillResult]:
        t0 = time.perf_counter()
        requests, options, on_step, cancel = call.requests, call.options, call.on_step, call.cancel
        contexts = [self._context(r.prefix, r.suffix) for r in requests]
        encoded = self._encode(contexts)
        need = [i for i, r in enumerate(requests) if needs_length(r)]
        probs = self._length_probs(encoded, need) if need else None
        rows = [
            Row(i, canvas)
            for i, r in enumerate(requests)
            for canvas in self._canvases(i, r, probs, options)
        ]
        res = self._denoise(encoded, rows, options, self._streamer(rows, on_step), cancel)
        tokens = res.tokens.cpu()
        conf = res.confidence.float().cpu()
        score = res.score.float().cpu()
        seconds = time.perf_counter() - t0

        def text_of(j: int) -> str:
            r = requests[rows[j].request]
            return self._text(tokens[j, : len(rows[j].canvas)].tolist(), r)[0]

        results: list[InfillResult] = []
        for i, r in enumerate(requests):
            mine = [j for j, row in enumerate(rows) if row.request == i]
            best = pick(mine, score, r.accept, text_of)
            text, keep = self._text(tokens[best, : len(rows[best].canvas)].tolist(), r)
            token_conf = [float(conf[best, k]) for k in keep]
            seen = len(contexts[i][0]) + len(contexts[i][1])
            results.append(
                InfillResult(
                    text=text,
                    tokens=[int(tokens[best, k]) for k in keep],
                    confidence=sum(token_conf) / len(token_conf) if token_conf else 1.0,
                    token_confidence=token_conf,
                    steps=res.steps,
                    seconds=seconds,
                    length=len(rows[best].canvas),
                    candidates=[len(rows[j].canvas) for j in mine],
                    score=float(score[best]),
                    context_tokens=seen,
                    context_computed=self._computed(encoded, i, seen),
                )
            )
        return results

    def _canvases(
        self, i: int, r: InfillRequest, probs: torch.Tensor | None, options: SamplerOptions
    ) -> list[list[int]]:
        """The canvases request `i` asks for: a repair, a touch-up, its fixed length, or
        the candidate lengths read from `probs`."""
        t = self.tokenizer
        given = self._given_canvas(i, r, options.seed)
        if given is not None:
            return [given]
        if r.length is not None:
            return [[t.mask_id] * r.length]
        assert probs is not None
        lengths = candidate_lengths(probs[i], self.max_span_tokens, self._candidate_count(options))
        return [[t.mask_id] * n for n in lengths]

    def _streamer(self, rows: list[Row], on_step: OnStep | None) -> Callable[[Step], None] | None:
        """The sampler's per-step callback: the intermediate text of the longest candidate
        of the first request (the one that shows the most)."""
        if on_step is None:
            return None
        first = [j for j, row in enumerate(rows) if row.request == 0]
        shown = max(first, key=lambda j: len(rows[j].canvas))
        n = len(rows[shown].canvas)
        t = self.tokenizer
        hidden = self.slack_ids | {t.mask_id}

        def step_text(step: Step) -> None:
            ids = step.tokens[shown, :n].tolist()
            on_step(t.decode(x for x in ids if x not in hidden), step)

        return step_text

    def _text(self, ids: list[int], r: InfillRequest) -> tuple[str, list[int]]:
        """Text of a finished canvas without slack tokens, and the kept positions; cut
        before a loop's repeats and, for a one-line request, at the first line break (the
        canvas is filled all at once, so what the model wrote after is dropped here)."""
        keep = [k for k, x in enumerate(ids) if x not in self.slack_ids]
        text, n = middle_text(self.tokenizer, [ids[k] for k in keep], r.one_line, r.cuts_loops)
        return text, keep[:n]
