"""Open diffusion checkpoints (Dream family, Open-dCoder, LLaDA) as a `Backend`.

    from diffill.model import load
    backend = load("/models/DiffuCoder-7B-Base", device="auto")  # recognised from config.json
    backend.infill(prefix, suffix).text

A request is laid out as its family writes infilling prompts (see `checkpoint`):

    [bos] prefix  [mask] * L  suffix [eos]

and the whole sequence is run at every denoising step. `logits(token_ids)` hides each
family's alignment: position i of its result always predicts token i.

These checkpoints have no length head, so the model is asked instead: one pass over a
canvas of `max_span_tokens` masks gives, at each slot k, the probability s_k that it holds
a slack token (the pad / end-of-text tokens the model writes after the content).
Treating slots as independent, P(length = n) ∝ Π_{k<n} (1 − s_k) · Π_{k≥n} s_k; its
quantiles give the candidate lengths, which are decoded as one batch, and the best by
model score (preferring candidates the caller's `accept` check passes) is kept. Slack
tokens are dropped from results, so a longer candidate covers an under-estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ... import precision as precisions
from ...backend import InfillError, ModelFacts
from ...hardware import resolve_device
from ...precision import Precision
from ...requests import LENGTH_QUANTILES, CanvasBackend, ContextIds, Row
from ...sampler import CancelHandle, DenoiseResult, SamplerOptions, Step
from . import checkpoint as open_checkpoint
from .checkpoint import Family
from .network import BidirectionalDecoder
from .sampler import denoise
from .tokenizer import HFTokenizer

# Longest span the model is asked to write; also the length probe's canvas.
DEFAULT_MAX_SPAN_TOKENS = 256


@dataclass
class _Row:
    """One canvas row: the full token sequence and where its canvas sits."""

    request: int
    tokens: list[int]
    start: int  # index of the first canvas token
    length: int  # canvas length


class HFInfiller(CanvasBackend[list[ContextIds]]):
    """An open diffusion checkpoint and its tokenizer, as a `Backend`."""

    model: BidirectionalDecoder
    tokenizer: HFTokenizer

    def __init__(
        self,
        model: BidirectionalDecoder,
        tokenizer: HFTokenizer,
        family: Family,
        *,
        name: str = "model",
        folder: Path | None = None,
        checkpoint: dict | None = None,
        max_span_tokens: int = DEFAULT_MAX_SPAN_TOKENS,
        max_context_tokens: int | None = None,
        precision: Precision | None = None,
    ) -> None:
        window = min(model.cfg.max_positions, open_checkpoint.MAX_WINDOW)
        if max_span_tokens <= 0:
            raise InfillError(f"max_span_tokens must be at least 1, not {max_span_tokens}")
        # A small window (say 256 positions) caps the span at half of it, not refuses it.
        max_span_tokens = min(max_span_tokens, window // 2)
        room = window - max_span_tokens - 2  # 2: bos and eos
        if max_context_tokens is not None and max_context_tokens > room:
            raise InfillError(
                f"max_context_tokens {max_context_tokens} does not fit the model's window: "
                f"{window} positions hold at most {room} context tokens beside a "
                f"{max_span_tokens}-token span"
            )
        # A published checkpoint records no training facts; its own facts (family, special
        # ids and where each was read, weight bytes) are `facts.checkpoint`.
        config = model.cfg.to_dict()
        facts = ModelFacts.of(
            model, config, name, family.slug, folder, checkpoint=checkpoint, precision=precision
        )
        super().__init__(model, tokenizer, facts, max_context_tokens, max_span_tokens, room)
        self.family = family
        t = tokenizer
        forbidden = torch.zeros(model.cfg.vocab_size, dtype=torch.bool)
        forbidden[t.vocab_size :] = True  # embedding rows no token maps to
        forbidden[sorted(t.special_ids - t.slack_ids)] = True
        self.forbidden = forbidden.to(self.device)
        self.slack_ids = t.slack_ids
        self._slack = torch.tensor(sorted(t.slack_ids), device=self.device)

    @torch.no_grad()
    def logits(self, token_ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) float32 logits of `token_ids` (B, T), position i predicting token i.

        valid: (B, T) bool; False marks right padding (attended by nothing).
        For shifted families the model's logit i-1 is moved to i; position 0 keeps its
        own (nothing predicts it), as in Dream's sampler.
        """
        token_ids = token_ids.to(self.device)
        if valid is not None:
            valid = valid.to(self.device)
        out = self.model(token_ids, valid).float()
        if self.family.shifted:
            out = torch.cat((out[:, :1], out[:, :-1]), dim=1)
        return out

    # -- the steps `CanvasBackend` leaves to a backend ------------------------------------

    def _sentinels(self) -> tuple[int | None, int | None]:
        t = self.tokenizer
        return (
            t.bos_id if self.family.bos_before_prefix else None,
            t.eos_id if self.family.eos_after_suffix else None,
        )

    def _encode(self, contexts: list[ContextIds]) -> list[ContextIds]:
        return contexts  # nothing to cache: the context attends to the canvas

    def _candidate_count(self, options: SamplerOptions) -> int:
        # Every quantile, whatever `length_candidates` says, as these backends have always
        # done (their length read-out is rougher than a length head).
        return len(LENGTH_QUANTILES)

    @torch.no_grad()
    def _length_probs(self, encoded: list[ContextIds], need: list[int]) -> torch.Tensor:
        """(N, max_span_tokens + 1) probabilities over span lengths 0..max_span_tokens from
        one pass over a canvas of masks (see the module comment); zero outside `need`."""
        t = self.tokenizer
        S = self.max_span_tokens
        rows = []
        for k, i in enumerate(need):
            pre, suf = encoded[i]
            rows.append(_Row(k, [*pre, *[t.mask_id] * S, *suf], len(pre), S))
        canvas_logits, canvas, _ = self._canvas_logits_fn(rows)
        logits = canvas_logits(canvas).float().masked_fill(self.forbidden, float("-inf"))
        logp = torch.log_softmax(logits, -1)  # (K, S, V)
        log_slack = torch.logsumexp(logp[..., self._slack], -1).clamp(max=-1e-6)  # (K, S)
        log_content = torch.log1p(-log_slack.exp()).clamp_min(-1e4)
        # log P(n) = sum_{k<n} log(1 - s_k) + sum_{k>=n} log s_k, for n = 0..S
        zeros = torch.zeros_like(log_slack[:, :1])
        before = torch.cat((zeros, log_content.cumsum(1)), 1)  # (K, S+1)
        after = torch.cat((log_slack.flip(1).cumsum(1).flip(1), zeros), 1)
        probs = torch.zeros(len(encoded), S + 1)
        probs[need] = torch.softmax(before + after, -1).cpu()
        return probs

    def _denoise(
        self,
        encoded: list[ContextIds],
        rows: list[Row],
        options: SamplerOptions,
        on_step: Callable[[Step], None] | None,
        cancel: CancelHandle | None,
    ) -> DenoiseResult:
        full = []
        for r in rows:
            pre, suf = encoded[r.request]
            full.append(_Row(r.request, [*pre, *r.canvas, *suf], len(pre), len(r.canvas)))
        canvas_logits, canvas, valid = self._canvas_logits_fn(full)
        return denoise(
            canvas_logits,
            canvas,
            mask_id=self.tokenizer.mask_id,
            valid=valid,
            forbidden=self.forbidden,
            options=options,
            on_step=on_step,
            cancel=cancel,
        )

    # -- prompt layout ----------------------------------------------------------------

    def _batch(self, rows: list[_Row]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r.tokens) for r in rows)
        pad = self.tokenizer.pad_id
        tokens = torch.tensor([r.tokens + [pad] * (width - len(r.tokens)) for r in rows])
        valid = torch.tensor(
            [[True] * len(r.tokens) + [False] * (width - len(r.tokens)) for r in rows]
        )
        return tokens.to(self.device), valid.to(self.device)

    def _canvas_logits_fn(
        self, rows: list[_Row]
    ) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor]:
        """The function the sampler calls, and the initial canvas (R, L) with its validity."""
        full, full_valid = self._batch(rows)
        L = max(r.length for r in rows)
        R = len(rows)
        # Canvas slot j of row r is sequence position start + j; slots past the row's
        # canvas point at its last canvas position and are ignored (valid False).
        slot = torch.arange(L)[None, :]
        start = torch.tensor([r.start for r in rows])[:, None]
        length = torch.tensor([r.length for r in rows])[:, None]
        pos = (start + torch.minimum(slot, length - 1)).to(self.device)  # (R, L)
        valid = (slot < length).to(self.device)
        shift = 1 if self.family.shifted else 0
        rows_ix = torch.arange(R, device=self.device)[:, None]
        canvas = full[rows_ix, pos].clone()

        def canvas_logits(tokens: torch.Tensor) -> torch.Tensor:
            seq = full.clone()
            seq[rows_ix.expand(R, L)[valid], pos[valid]] = tokens[valid]
            h = self.model.hidden(seq, full_valid)  # (R, T, C)
            # (R, L, C): the hidden state that predicts each slot; slot 0 of a sequence keeps
            # its own, as in `logits`
            h = h[rows_ix, (pos - shift).clamp_min(0)]
            return self.model.logits(h)  # (R, L, V)

        return canvas_logits, canvas, valid


def load(
    folder: str | Path,
    device: str = "cpu",
    dtype: str = "auto",
    max_span_tokens: int = DEFAULT_MAX_SPAN_TOKENS,
    *,
    max_context_tokens: int | None = None,
    name: str | None = None,
) -> HFInfiller:
    """Load a Hugging Face-format diffusion checkpoint folder as an `HFInfiller`.

    device: "cpu", "cuda[:N]" or "auto" (CUDA when available).
    dtype: "auto" (bfloat16 where it is fast: CUDA, or a CPU with AMX or AVX512-BF16;
        else float32), "bfloat16" or "float32". float32 is the network's exact
        arithmetic (weights, activations, no autocast), as `transformers` computes it in
        float32; `facts.precision` says what was chosen and why. ValueError for int8.
    max_context_tokens: at most what the model's window leaves beside the span (the default).
    Raises `CheckpointError` (or its `ModelTooLarge`) naming what is wrong with the folder.
    """
    dev = resolve_device(device)
    # One decision for the weights, the arithmetic and the facts (`precision.choose`);
    # config.json's torch_dtype (the dtype the weights were published in) has no say.
    chosen = precisions.choose(dtype, dev)
    if chosen.dtype == "int8":
        raise ValueError("dtype int8 (quantised linear layers) is for diffill's own models")
    ckpt = open_checkpoint.load(folder, dev, chosen.weight_dtype)
    return HFInfiller(
        ckpt.model,
        ckpt.tokenizer,
        ckpt.family,
        name=name or str(folder),
        folder=Path(folder),
        checkpoint=ckpt.info,
        max_span_tokens=max_span_tokens,
        max_context_tokens=max_context_tokens,
        precision=chosen,
    )
