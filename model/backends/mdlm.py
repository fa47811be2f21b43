"""diffill's own masked-diffusion model as a `Backend`: the network of `transformer` with
its length head, and the context it encodes once per request.

Layout of a request (see `training.objective` for why): the context is the prefix at
positions 0..p-1 and the suffix from p + span_positions on; the canvas sits at
p..p+L-1. Context positions attend only to context, so its keys and values are computed
once (`sampler.Context.encode`) and reused by the length probe and every denoising step.
A `<len>` probe at p reads the length head. Unless a length is given, a few candidate
canvas lengths are decoded as one batch and the best by model score (and by the caller's
`accept` check, when given) is kept (`requests.CanvasBackend`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..backend import InfillError, ModelFacts
from ..checkpoint import MODEL_TYPE, Checkpoint
from ..requests import CanvasBackend, ContextIds, Row
from ..sampler import (
    CancelHandle,
    Context,
    DenoiseResult,
    SamplerOptions,
    Step,
    canvas_hidden,
    denoise,
)
from ..tokenizer import CodeTokenizer
from .steps import Steps
from .transformer import DiffusionLM, group_mask


class Infiller(CanvasBackend[tuple[Context, list[int]]]):
    """A loaded diffill model and its tokenizer, ready to infill."""

    model: DiffusionLM
    tokenizer: CodeTokenizer

    def __init__(
        self, ckpt: Checkpoint, name: str = "model", *, max_context_tokens: int | None = None
    ) -> None:
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

    def _encode(self, contexts: list[ContextIds]) -> tuple[Context, list[int]]:
        """All contexts in one padded batch with their keys and values, and each request's
        gap position p."""
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
        return ctx.encode(self.model), gaps

    def _length_probs(self, encoded: tuple[Context, list[int]], need: list[int]) -> torch.Tensor:
        """The length head's probabilities over span lengths 0..span_positions-1, read by
        a `<len>` probe at each gap; one batched pass over every request."""
        ctx, gaps = encoded
        n = ctx.tokens.shape[0]
        probe = torch.full((n, 1), self.tokenizer.len_id, device=self.device)
        pos = torch.tensor(gaps, device=self.device)[:, None]
        rows = ctx.rows(torch.arange(n, device=self.device))
        h = canvas_hidden(self.model, rows, probe, pos, torch.ones_like(probe, dtype=torch.bool))
        return torch.softmax(self.model.length_logits(h[:, 0]).float(), -1).cpu()  # (N, S)

    def _denoise(
        self,
        encoded: tuple[Context, list[int]],
        rows: list[Row],
        options: SamplerOptions,
        on_step: Callable[[Step], None] | None,
        cancel: CancelHandle | None,
    ) -> DenoiseResult:
        ctx, gaps = encoded
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
