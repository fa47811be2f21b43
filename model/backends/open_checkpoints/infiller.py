"""Open diffusion checkpoints (Dream family, Open-dCoder, LLaDA) behind diffill's `Infiller` API.

    from diffill.model import load
    infiller = load("/models/DiffuCoder-7B-Base", device="auto")  # recognised from config.json
    infiller.infill(prefix, suffix).text

A request is laid out as its family writes infilling prompts (see `hf_checkpoint`):

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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ...hardware import describe, fast_bf16, resolve_device
from ...sampler import CancelHandle, SamplerOptions, Step
from ..mdlm import LENGTH_QUANTILES, InfillError, InfillRequest, InfillResult, trim_context
from . import checkpoint as hf_checkpoint
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


class HFInfiller:
    """An open diffusion checkpoint and its tokenizer, with the `Infiller` interface."""

    predicts_length = True

    def __init__(
        self,
        model: BidirectionalDecoder,
        tokenizer: HFTokenizer,
        family: Family,
        *,
        name: str = "model",
        device: torch.device | None = None,
        folder: Path | None = None,
        facts: dict | None = None,
        max_span_tokens: int = DEFAULT_MAX_SPAN_TOKENS,
    ) -> None:
        window = min(model.cfg.max_positions, hf_checkpoint.MAX_WINDOW)
        if not 0 < max_span_tokens <= window // 2:
            raise InfillError(f"max_span_tokens must be in 1..{window // 2}, not {max_span_tokens}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.family = family
        self.name = name
        self.folder = folder
        # `info` holds training facts for diffill's own models (the CLI prints them as
        # such); a published checkpoint records none, so its facts (family, special ids
        # and where each was read, weight bytes) go in `checkpoint`.
        self.info: dict = {}
        self.checkpoint = facts or {}
        self.device = device or next(model.parameters()).device
        self.model_type = f"hf-{family.name}"
        self.max_span_tokens = max_span_tokens
        self.max_context_tokens = window - max_span_tokens - 2  # 2: bos and eos
        t = tokenizer
        forbidden = torch.zeros(model.cfg.vocab_size, dtype=torch.bool)
        forbidden[t.vocab_size :] = True  # embedding rows no token maps to
        forbidden[sorted(t.special_ids - t.slack_ids)] = True
        self.forbidden = forbidden.to(self.device)
        self._slack = torch.tensor(sorted(t.slack_ids), device=self.device)

    # -- public API -------------------------------------------------------------------

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def describe_device(self) -> str:
        return describe(self.device)

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
        accept: Callable[[str], bool] | None = None,
        **sampler_options,
    ) -> InfillResult:
        """Generate the text between `prefix` and `suffix`; arguments as `Infiller.infill`."""
        request = InfillRequest(
            prefix,
            suffix,
            middle,
            strength,
            length,
            tuple(remask) if remask is not None else None,
            accept,
        )
        return self._run([request], SamplerOptions.of(**sampler_options), on_step, cancel)[0]

    def infill_batch(
        self,
        pairs: Sequence[tuple[str, str] | InfillRequest],
        *,
        length: int | None = None,
        cancel: CancelHandle | None = None,
        accept: Callable[[str], bool] | None = None,
        **sampler_options,
    ) -> list[InfillResult]:
        """`infill` for many (prefix, suffix) pairs or `InfillRequest`s in one batch."""
        requests = [
            p if isinstance(p, InfillRequest) else InfillRequest(p[0], p[1], length=length)
            for p in pairs
        ]
        if not requests:
            return []
        if accept is not None:
            requests = [r if r.accept else replace(r, accept=accept) for r in requests]
        return self._run(requests, SamplerOptions.of(**sampler_options), None, cancel)

    def length_distribution(self, prefix: str, suffix: str) -> torch.Tensor:
        """Probabilities over span lengths 0..max_span_tokens, read by the length probe."""
        return self._length_probs([InfillRequest(prefix, suffix)])[0]

    # -- prompt layout ----------------------------------------------------------------

    def _context(self, prefix: str, suffix: str) -> tuple[list[int], list[int]]:
        """Prefix and suffix ids, cut to the budget nearest the gap, with the family's
        sentinels where the file really starts or ends."""
        t = self.tokenizer
        pre, suf, pre_cut, suf_cut = trim_context(
            t.encode(prefix), t.encode(suffix), self.max_context_tokens
        )
        if self.family.bos_before_prefix and t.bos_id is not None and not pre_cut:
            pre = [t.bos_id, *pre]
        if self.family.eos_after_suffix and t.eos_id is not None and not suf_cut:
            suf = [*suf, t.eos_id]
        return pre, suf

    def _batch(self, rows: list[_Row]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r.tokens) for r in rows)
        pad = self.tokenizer.pad_id
        tokens = torch.tensor([r.tokens + [pad] * (width - len(r.tokens)) for r in rows])
        valid = torch.tensor(
            [[True] * len(r.tokens) + [False] * (width - len(r.tokens)) for r in rows]
        )
        return tokens.to(self.device), valid.to(self.device)

    def _canvas_logits_fn(self, rows: list[_Row]) -> tuple[Callable, torch.Tensor, torch.Tensor]:
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

    # -- length -----------------------------------------------------------------------

    @torch.no_grad()
    def _length_probs(self, requests: list[InfillRequest]) -> torch.Tensor:
        t = self.tokenizer
        S = self.max_span_tokens
        rows = []
        for i, r in enumerate(requests):
            pre, suf = self._context(r.prefix, r.suffix)
            rows.append(_Row(i, [*pre, *[t.mask_id] * S, *suf], len(pre), S))
        canvas_logits, canvas, _ = self._canvas_logits_fn(rows)
        logits = canvas_logits(canvas).float().masked_fill(self.forbidden, float("-inf"))
        logp = torch.log_softmax(logits, -1)  # (N, S, V)
        log_slack = torch.logsumexp(logp[..., self._slack], -1).clamp(max=-1e-6)  # (N, S)
        log_content = torch.log1p(-log_slack.exp()).clamp_min(-1e4)
        # log P(n) = sum_{k<n} log(1 - s_k) + sum_{k>=n} log s_k, for n = 0..S
        zeros = torch.zeros_like(log_slack[:, :1])
        before = torch.cat((zeros, log_content.cumsum(1)), 1)  # (N, S+1)
        after = torch.cat((log_slack.flip(1).cumsum(1).flip(1), zeros), 1)
        return torch.softmax(before + after, -1).cpu()  # (N, S+1)

    def _candidate_lengths(self, probs: torch.Tensor) -> list[int]:
        cdf = probs.cumsum(0)
        out: list[int] = []
        for q in LENGTH_QUANTILES:
            n = int(torch.searchsorted(cdf, torch.tensor(q)).clamp(1, self.max_span_tokens))
            if n not in out:
                out.append(n)
        return out

    # -- canvases (same semantics as `Infiller`) --------------------------------------

    @staticmethod
    def _needs_length(r: InfillRequest) -> bool:
        if r.length is not None:
            return False
        return r.middle is None or (r.remask is None and r.strength >= 1)

    def _canvases(
        self, i: int, r: InfillRequest, probs: torch.Tensor | None, seed: int
    ) -> list[list[int]]:
        t = self.tokenizer
        mask = t.mask_id
        if r.middle is not None and r.remask is not None:
            return [self._remask_canvas(r.middle, r.remask)]
        if r.middle is not None and r.strength < 1:
            # Touch-up: keep most original tokens, re-noise a `strength` share, and allow
            # a little growth through masked slack at the end.
            orig = t.encode(r.middle)
            slack = min(len(orig) // 8 + 2, self.max_span_tokens - len(orig))
            if slack < 0:
                raise InfillError(
                    f"the text to rewrite is {len(orig)} tokens; the model's limit is "
                    f"{self.max_span_tokens}"
                )
            g = torch.Generator().manual_seed(seed + i)
            n_noise = max(1, math.ceil(r.strength * len(orig))) if orig else 0
            picks = set(torch.randperm(len(orig), generator=g)[:n_noise].tolist())
            return [[mask if k in picks else x for k, x in enumerate(orig)] + [mask] * slack]
        if r.length is not None:
            return [[mask] * r.length]
        assert probs is not None
        return [[mask] * n for n in self._candidate_lengths(probs[i])]

    def _remask_canvas(self, middle: str, ranges: tuple[tuple[int, int], ...]) -> list[int]:
        """`middle`'s tokens overlapping `ranges` (and one neighbour on each side) masked,
        with two masked slots of slack after each masked run."""
        t = self.tokenizer
        ids, spans = t.encode_with_offsets(middle)
        hit = [any(a < e + 1 and s < b + 1 for s, e in ranges) for a, b in spans]
        out: list[int] = []
        for k, x in enumerate(ids):
            near = hit[k] or (k > 0 and hit[k - 1]) or (k + 1 < len(ids) and hit[k + 1])
            out.append(t.mask_id if near else x)
            if hit[k] and (k + 1 == len(ids) or not hit[k + 1]):
                out += [t.mask_id] * 2
        if not ids:
            out = [t.mask_id] * 4
        if len(out) > self.max_span_tokens:
            raise InfillError(
                f"the text to repair is {len(out)} tokens; the model's limit is "
                f"{self.max_span_tokens}"
            )
        return out

    # -- decoding ---------------------------------------------------------------------

    def _run(
        self,
        requests: list[InfillRequest],
        options: SamplerOptions,
        on_step: Callable[[str, Step], None] | None,
        cancel: CancelHandle | None,
    ) -> list[InfillResult]:
        t0 = time.perf_counter()
        t = self.tokenizer
        for r in requests:
            if not 0 < r.strength <= 1:
                raise InfillError(f"strength must be in (0, 1], not {r.strength!r}")
            if r.remask is not None and r.middle is None:
                raise InfillError("remask ranges need the original middle text")
            if r.length is not None and not 0 < r.length <= self.max_span_tokens:
                raise InfillError(
                    f"length must be between 1 and {self.max_span_tokens} tokens, not {r.length!r}"
                )
        need = [r for r in requests if self._needs_length(r)]
        probs = None
        if need:
            probs = torch.zeros(len(requests), self.max_span_tokens + 1)
            ix = [i for i, r in enumerate(requests) if self._needs_length(r)]
            probs[ix] = self._length_probs(need)

        rows: list[_Row] = []
        for i, r in enumerate(requests):
            pre, suf = self._context(r.prefix, r.suffix)
            for canvas in self._canvases(i, r, probs, options.seed):
                rows.append(_Row(i, [*pre, *canvas, *suf], len(pre), len(canvas)))
        canvas_logits, canvas, valid = self._canvas_logits_fn(rows)
        streamed = [j for j, row in enumerate(rows) if row.request == 0]
        shown = max(streamed, key=lambda j: rows[j].length)

        def step_text(step: Step) -> None:
            # The longest candidate of the first request shows the most text.
            ids = step.tokens[shown, : rows[shown].length].tolist()
            on_step(t.decode(x for x in ids if x != t.mask_id and x not in t.slack_ids), step)

        res = denoise(
            canvas_logits,
            canvas,
            mask_id=t.mask_id,
            valid=valid,
            forbidden=self.forbidden,
            options=options,
            on_step=step_text if on_step is not None else None,
            cancel=cancel,
        )
        tokens, conf, score = (
            res.tokens.cpu(),
            res.confidence.float().cpu(),
            res.score.float().cpu(),
        )
        seconds = time.perf_counter() - t0
        results = []
        for i, r in enumerate(requests):
            mine = [j for j, row in enumerate(rows) if row.request == i]
            texts = {j: self._text(tokens[j, : rows[j].length].tolist())[0] for j in mine}
            if r.accept is not None and len(mine) > 1:
                mine = [j for j in mine if r.accept(texts[j])] or mine
            best = max(mine, key=lambda j: float(score[j]))
            text, keep = self._text(tokens[best, : rows[best].length].tolist())
            out_ids = [int(tokens[best, k]) for k in keep]
            token_conf = [float(conf[best, k]) for k in keep]
            results.append(
                InfillResult(
                    text=text,
                    tokens=out_ids,
                    confidence=sum(token_conf) / len(token_conf) if token_conf else 1.0,
                    token_confidence=token_conf,
                    steps=res.steps,
                    seconds=seconds,
                    length=rows[best].length,
                    candidates=[rows[j].length for j in range(len(rows)) if rows[j].request == i],
                    score=float(score[best]),
                )
            )
        return results

    def _text(self, ids: list[int]) -> tuple[str, list[int]]:
        """Text of a finished canvas without slack tokens, and the kept positions."""
        t = self.tokenizer
        keep = [k for k, x in enumerate(ids) if x not in t.slack_ids]
        return t.decode(ids[k] for k in keep), keep


def load(
    folder: str | Path,
    device: str = "cpu",
    dtype: str = "auto",
    max_span_tokens: int = DEFAULT_MAX_SPAN_TOKENS,
) -> HFInfiller:
    """Load a Hugging Face-format diffusion checkpoint folder as an `HFInfiller`.

    device: "cpu", "cuda[:N]" or "auto" (CUDA when available).
    dtype: "auto" (bfloat16 where it is fast, e.g. on a GPU; else float32), "bfloat16"
        or "float32".
    Raises `CheckpointError` (or its `ModelTooLarge`) naming what is wrong with the folder.
    """
    dev = resolve_device(device)
    if dtype == "auto":
        torch_dtype = torch.bfloat16 if fast_bf16(dev) else torch.float32
    elif dtype in ("bfloat16", "float32"):
        torch_dtype = getattr(torch, dtype)
    else:
        raise InfillError(f"dtype must be auto, bfloat16 or float32, not {dtype!r}")
    ckpt = hf_checkpoint.load(folder, dev, torch_dtype)
    return HFInfiller(
        ckpt.model,
        ckpt.tokenizer,
        ckpt.family,
        name=str(folder),
        device=dev,
        folder=Path(folder),
        facts=ckpt.info,
        max_span_tokens=max_span_tokens,
    )
