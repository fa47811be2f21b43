"""diffill's own masked-diffusion model as a `Backend`: the network of `transformer` with
its length head, and the context it encodes once per request (and keeps for the next).

Layout of a request (see `training.objective` for why): the context is the prefix at
positions 0..p-1 and the suffix from p + span_positions on; the canvas sits at
p..p+L-1. Context positions attend only to context, so its keys and values are computed
once (`sampler.Context.encode`) and reused by the length probe and every denoising step.
A `<len>` probe at p reads the length head. Unless a length is given, a few candidate
canvas lengths are decoded as one batch and the best by model score (and by the caller's
`accept` check, when given) is kept (`requests.CanvasBackend`).

The last few single contexts stay encoded (`KeptContexts`), so a request for the very same
context (the Language Server's warm-up in a pause after typing, then the completion there;
a request repeated at the same place) decodes without encoding it again. Only the same
context is of use: every context token attends to every other, so one changed token
changes them all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..backend import InfillError, InfillResult, ModelFacts
from ..checkpoint import MODEL_TYPE, Checkpoint
from ..requests import Call, CanvasBackend, ContextIds, Row
from ..sampler import (
    CancelHandle,
    Cancelled,
    Context,
    DenoiseResult,
    SamplerOptions,
    Step,
    canvas_hidden,
    denoise,
)
from ..tokenizer import CodeTokenizer
from .steps import Steps
from .transformer import DiffusionLM, WeightsWatch, group_mask

# How many single contexts stay encoded by default (the least recently used goes first):
# the warm-up's and the last few requests'. At the base size a 1,024-token context keeps
# 21 MB of keys and values (with the room for a canvas after them).
DEFAULT_CACHE_ENTRIES = 4


@dataclass
class Encoded:
    """The contexts of a call, as `_length_probs` and `_denoise` take them."""

    context: Context  # one padded batch, its keys and values encoded
    gaps: list[int]  # each request's gap position p
    computed: list[int]  # context tokens of each request this call encoded (0: kept)


class KeptContexts:
    """Encoded single contexts by their exact (prefix ids, suffix ids). A kept one is the
    very encoding a fresh call would make (the same computation on the same ids), and the
    steps only ever write the room after its context, so reusing it is exact."""

    def __init__(self, entries: int) -> None:
        if entries < 1:
            raise ValueError("at least one context must be kept")
        self.entries = entries
        self._kept: OrderedDict[tuple[tuple[int, ...], tuple[int, ...]], Context] = OrderedDict()

    @staticmethod
    def key(ids: ContextIds) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(ids[0]), tuple(ids[1])

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, ids: ContextIds) -> Context | None:
        key = self.key(ids)
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    def put(self, ids: ContextIds, context: Context) -> None:
        key = self.key(ids)
        self._kept[key] = context
        self._kept.move_to_end(key)
        while len(self._kept) > self.entries:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


class Infiller(CanvasBackend[Encoded]):
    """A loaded diffill model and its tokenizer, ready to infill."""

    model: DiffusionLM
    tokenizer: CodeTokenizer

    def __init__(
        self,
        ckpt: Checkpoint,
        name: str = "model",
        *,
        max_context_tokens: int | None = None,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
    ) -> None:
        """cache_entries: single contexts kept encoded (`KeptContexts`)."""
        model, tokenizer = ckpt.model, ckpt.tokenizer
        if tokenizer.vocab_size != model.cfg.vocab_size:
            raise InfillError("tokenizer and model disagree on the vocabulary size")
        facts = ModelFacts.of(
            model,
            model.cfg.to_dict(),
            name,
            MODEL_TYPE,
            ckpt.folder,
            ckpt.info,
            precision=ckpt.precision,
        )
        super().__init__(model, tokenizer, facts, max_context_tokens, model.cfg.span_positions - 1)
        t = tokenizer
        self.forbidden_ids = tuple(sorted(t.special_ids - {t.pad_id}))
        self.slack_ids = frozenset({t.pad_id})
        self.steps = Steps(model)
        self.kept = KeptContexts(cache_entries)
        self.weights = WeightsWatch(model)  # the kept encodings hold for these weights
        # Held while a call uses kept contexts: its steps write their buffers' room.
        self._lock = threading.Lock()

    @property
    def reuses_context(self) -> bool:
        return True

    def warm_context(self, prefix: str, suffix: str, cancel: CancelHandle | None = None) -> int:
        """Encode the context of (prefix, suffix) and keep it, decoding nothing (the
        Language Server does it while the user pauses typing); the tokens encoded: 0 when
        it was kept already, or when `cancel` stopped it (checked before every layer; a
        part of an encoding is of no use here, so nothing of it is kept)."""
        with self._lock:
            try:
                return self._encode([self._context(prefix, suffix)], cancel).computed[0]
            except Cancelled:
                return 0

    def length_distribution(self, prefix: str, suffix: str) -> torch.Tensor:
        with self._lock:
            return super().length_distribution(prefix, suffix)

    def _run(self, call: Call[SamplerOptions]) -> list[InfillResult]:
        with self._lock:
            return super()._run(call)

    def warm_up(self) -> None:
        """Compile the denoising step when $DIFFILL_COMPILE=1 asks (CPU, reusing the
        on-disk cache; eager on CUDA, where the block model's step has graphs), then run a
        request with the model choosing the length (the length probe, candidate rows of
        two lengths, so a mask) and one of a fixed length (no mask), so that the first
        real request pays for neither."""
        self.steps.prepare()
        super().warm_up()
        self.infill("def f(x):\n    return ", "\n", length_candidates=2)

    @torch.no_grad()
    def logits(self, token_ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) float32 logits of `token_ids` (B, T), position i predicting token i
        (this network predicts in place), every position attending to every other.

        valid: (B, T) bool; False marks right padding (attended by nothing).
        """
        token_ids = token_ids.to(self.device)
        B, T = token_ids.shape
        positions = torch.arange(T, device=self.device).expand(B, T)
        mask = None
        if valid is not None:
            groups = torch.where(valid.to(self.device), 0, -1)
            mask = group_mask(groups)
        h, _ = self.model.hidden(token_ids, positions, mask)
        return self.model.token_logits(h).float()

    # -- the steps `CanvasBackend` leaves to a backend ------------------------------------

    def _sentinels(self) -> tuple[int, int]:
        return self.tokenizer.bof_id, self.tokenizer.eof_id

    def _encode(self, contexts: list[ContextIds], cancel: CancelHandle | None = None) -> Encoded:
        """All contexts in one padded batch with their keys and values, and each request's
        gap position p; a single context is looked up in, or else added to, the kept ones
        (a batch is encoded as one and kept whole by nobody: it is a batch job's)."""
        if self.weights.changed():
            self.kept.clear()  # every kept encoding is stale
        if len(contexts) == 1:
            kept = self.kept.get(contexts[0])
            if kept is not None:
                return Encoded(kept, [len(contexts[0][0])], [0])
            encoded = self._encode_batch(contexts, cancel)
            self.kept.put(contexts[0], encoded.context)
            return encoded
        return self._encode_batch(contexts, cancel)

    def _computed(self, encoded: Encoded, i: int, seen: int) -> int:
        return encoded.computed[i]

    def _encode_batch(self, contexts: list[ContextIds], cancel: CancelHandle | None) -> Encoded:
        gap = self.model.cfg.span_positions
        rows, pos_rows, gaps = [], [], []
        for pre, suf in contexts:
            p = len(pre)
            rows.append(pre + suf)
            pos_rows.append(list(range(p)) + list(range(p + gap, p + gap + len(suf))))
            gaps.append(p)
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_id
        tokens = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        positions = torch.tensor([r + [0] * (width - len(r)) for r in pos_rows])
        valid = torch.tensor([[True] * len(r) + [False] * (width - len(r)) for r in rows])
        ctx = Context(tokens.to(self.device), positions.to(self.device), valid.to(self.device))
        return Encoded(ctx.encode(self.model, cancel=cancel), gaps, [len(r) for r in rows])

    def _length_probs(self, encoded: Encoded, need: list[int]) -> torch.Tensor:
        """The length head's probabilities over span lengths 0..span_positions-1, read by
        a `<len>` probe at each gap; one batched pass over every request."""
        ctx, gaps = encoded.context, encoded.gaps
        n = ctx.tokens.shape[0]
        probe = torch.full((n, 1), self.tokenizer.len_id, device=self.device)
        pos = torch.tensor(gaps, device=self.device)[:, None]
        rows = ctx.rows(torch.arange(n, device=self.device))
        h = canvas_hidden(self.model, rows, probe, pos, torch.ones_like(probe, dtype=torch.bool))
        return torch.softmax(self.model.length_logits(h[:, 0]).float(), -1).cpu()  # (N, S)

    def _denoise(
        self,
        encoded: Encoded,
        rows: list[Row],
        options: SamplerOptions,
        on_step: Callable[[Step], None] | None,
        cancel: CancelHandle | None,
    ) -> DenoiseResult:
        ctx, gaps = encoded.context, encoded.gaps
        L = max(len(r.canvas) for r in rows)
        R = len(rows)
        canvas = torch.full((R, L), self.tokenizer.pad_id)
        valid = torch.zeros(R, L, dtype=torch.bool)
        for j, r in enumerate(rows):
            canvas[j, : len(r.canvas)] = torch.tensor(r.canvas)
            valid[j, : len(r.canvas)] = True
        positions = torch.tensor([gaps[r.request] for r in rows])[:, None] + torch.arange(L)[None]
        index = torch.tensor([r.request for r in rows])
        return denoise(
            self.model,
            canvas.to(self.device),
            positions.to(self.device),
            ctx.rows(index.to(self.device)),
            mask_id=self.tokenizer.mask_id,
            valid=valid.to(self.device),
            forbidden_ids=self.forbidden_ids,
            options=options,
            on_step=on_step,
            cancel=cancel,
            runner=self.steps,
        )
