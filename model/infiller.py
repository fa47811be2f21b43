"""The public API: fill the gap between a prefix and a suffix.

    from diffill.model import load
    infiller = load()
    r = infiller.infill(prefix, suffix)   # -> InfillResult

Layout of a request (see `objective` for why): the context is the prefix at positions
0..p-1 and the suffix from p + span_positions on; the canvas sits at p..p+L-1. A `<len>`
probe at p reads the length head. Unless a length is given, a few candidate canvas
lengths are decoded as one batch and the best by model score (and by the caller's
`accept` check, when given) is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from . import checkpoint
from .hardware import describe, fast_bf16, resolve_device
from .network import DiffusionLM, group_mask
from .sampler import CancelHandle, Context, SamplerOptions, Step, canvas_hidden, denoise
from .tokenizer import CodeTokenizer

DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"

# Quantiles of the predicted length distribution tried as candidate canvas lengths. The
# longer ones carry slack the model fills with <pad>, which covers an under-estimate.
LENGTH_QUANTILES = (0.5, 0.8, 0.95)


class InfillError(ValueError):
    """A request the model cannot serve (too long, bad option); the message says why."""


@dataclass
class InfillResult:
    text: str  # the generated middle
    tokens: list[int]  # its token ids (pads removed)
    confidence: float  # mean probability of the generated tokens when committed
    token_confidence: list[float]
    steps: int  # denoising steps (model calls over the canvas)
    seconds: float
    length: int  # canvas length of the kept candidate
    candidates: list[int] = field(default_factory=list)  # canvas lengths tried
    score: float = 0.0  # mean log-confidence of the kept candidate
    context_tokens: int = 0  # context tokens the model saw
    context_computed: int = 0  # of those, how many this call encoded (the rest was cached)


@dataclass
class InfillRequest:
    prefix: str
    suffix: str
    middle: str | None = None  # original text, re-noised by `strength`
    strength: float = 1.0
    length: int | None = None
    # Character ranges of `middle` to re-noise (the rest is kept), e.g. under a syntax
    # error; each range also gets a little masked slack, in which unused slots become pads.
    remask: tuple[tuple[int, int], ...] | None = None
    accept: Callable[[str], bool] | None = None  # this request's candidate check


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


class Infiller:
    """A loaded model and its tokenizer, ready to infill."""

    def __init__(
        self,
        model: DiffusionLM,
        tokenizer: CodeTokenizer,
        name: str = "model",
        device: torch.device | None = None,
        max_context_tokens: int = 2048,
        folder: Path | None = None,
        info: dict | None = None,
    ) -> None:
        if tokenizer.vocab_size != model.cfg.vocab_size:
            raise InfillError("tokenizer and model disagree on the vocabulary size")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.folder = folder  # where it was loaded from, if anywhere
        self.info = info or {}  # facts recorded at training time
        self.device = device or next(model.parameters()).device
        self.max_context_tokens = max_context_tokens
        self.max_span_tokens = model.cfg.span_positions - 1
        t = tokenizer
        self.forbidden_ids = tuple(sorted(t.special_ids - {t.pad_id}))

    # -- public API -------------------------------------------------------------------

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
        """Generate the text between `prefix` and `suffix`.

        middle, strength: rewrite `middle` instead of generating from nothing; `strength`
            in (0, 1] is the share of its tokens re-noised (1 regenerates it entirely).
        length: canvas length in tokens; None lets the model choose.
        remask: character ranges of `middle` to re-noise instead of a random share.
        on_step: called with (intermediate text, Step) after every denoising step.
        cancel: anything with `is_set()`; checked between steps (raises `Cancelled`).
        accept: a check on candidate texts (for example "it parses"); passing candidates
            are preferred over better-scored failing ones.
        sampler_options: `SamplerOptions` fields (steps, threshold, order, temperature,
            top_p, remask, seed); an unknown name raises.
        """
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

    @torch.no_grad()
    def logits(self, token_ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) float32 logits of `token_ids` (B, T), position i predicting token i
        (this network predicts in place), every position attending to every other.

        valid: (B, T) bool; False marks right padding (attended by nothing).
        The same contract as the open-checkpoint backends (`HFInfiller.logits`).
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

    def length_distribution(self, prefix: str, suffix: str) -> torch.Tensor:
        """The length head's probabilities over span lengths 0..span_positions-1."""
        ctx, gaps = self._contexts([InfillRequest(prefix, suffix)])
        return self._length_probs(ctx, gaps)[0]

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def describe_device(self) -> str:
        return describe(self.device)

    # -- internals --------------------------------------------------------------------

    def _encode_context(self, prefix: str, suffix: str) -> tuple[list[int], list[int]]:
        t = self.tokenizer
        pre, suf, pre_cut, suf_cut = trim_context(
            t.encode(prefix), t.encode(suffix), self.max_context_tokens
        )
        if not pre_cut:
            pre = [t.bof_id, *pre]
        if not suf_cut:
            suf = [*suf, t.eof_id]
        return pre, suf

    def _contexts(self, requests: list[InfillRequest]) -> tuple[Context, list[int]]:
        """Encoded contexts of all requests, and each request's gap position p."""
        gap = self.model.cfg.span_positions
        rows, pos_rows, gaps = [], [], []
        for r in requests:
            pre, suf = self._encode_context(r.prefix, r.suffix)
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

    def _length_probs(self, ctx: Context, gaps: list[int]) -> torch.Tensor:
        n = ctx.tokens.shape[0]
        probe = torch.full((n, 1), self.tokenizer.len_id, device=self.device)
        pos = torch.tensor(gaps, device=self.device)[:, None]
        rows = ctx.rows(torch.arange(n, device=self.device))
        h = canvas_hidden(self.model, rows, probe, pos, torch.ones_like(probe, dtype=torch.bool))
        return torch.softmax(self.model.length_logits(h[:, 0]).float(), -1).cpu()  # (N, S)

    def _candidate_lengths(self, probs: torch.Tensor, count: int = 3) -> list[int]:
        cdf = probs.cumsum(0)
        out: list[int] = []
        for q in LENGTH_QUANTILES[:count]:
            n = int(torch.searchsorted(cdf, torch.tensor(q)).clamp(1, self.max_span_tokens))
            if n not in out:
                out.append(n)
        return out

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
        ctx, gaps = self._contexts(requests)
        need_probe = [i for i, r in enumerate(requests) if self._needs_length(r)]
        probs = self._length_probs(ctx, gaps) if need_probe else None

        # One canvas row per (request, candidate length).
        row_req: list[int] = []
        row_tokens: list[list[int]] = []
        for i, r in enumerate(requests):
            for canvas in self._canvases(i, r, probs, options):
                row_req.append(i)
                row_tokens.append(canvas)
        L = max(len(c) for c in row_tokens)
        R = len(row_tokens)
        canvas = torch.full((R, L), t.pad_id)
        valid = torch.zeros(R, L, dtype=torch.bool)
        for j, c in enumerate(row_tokens):
            canvas[j, : len(c)] = torch.tensor(c)
            valid[j, : len(c)] = True
        positions = torch.tensor([gaps[i] for i in row_req])[:, None] + torch.arange(L)[None]
        index = torch.tensor(row_req)

        streamed = [j for j in range(R) if row_req[j] == 0]

        def step_text(step: Step) -> None:
            # Stream the longest candidate of the first request: it is the one whose
            # intermediate text shows the most.
            j = max(streamed, key=lambda k: int(valid[k].sum()))
            ids = [
                x for x in step.tokens[j, : int(valid[j].sum())].tolist() if x not in (t.pad_id,)
            ]
            on_step(t.decode(x for x in ids if x != t.mask_id), step)

        res = denoise(
            self.model,
            canvas.to(self.device),
            positions.to(self.device),
            ctx.rows(index.to(self.device)),
            mask_id=t.mask_id,
            valid=valid.to(self.device),
            forbidden_ids=self.forbidden_ids,
            options=options,
            on_step=step_text if on_step is not None else None,
            cancel=cancel,
        )
        tokens = res.tokens.cpu()
        conf = res.confidence.float().cpu()
        score = res.score.float().cpu()
        seconds = time.perf_counter() - t0
        results: list[InfillResult] = []
        for i in range(len(requests)):
            rows = [j for j in range(R) if row_req[j] == i]
            best = self._pick(rows, tokens, conf, score, valid, requests[i].accept)
            n = int(valid[best].sum())
            ids = tokens[best, :n].tolist()
            keep = [k for k, x in enumerate(ids) if x != t.pad_id]
            out_ids = [ids[k] for k in keep]
            token_conf = [float(conf[best, k]) for k in keep]
            results.append(
                InfillResult(
                    text=t.decode(out_ids),
                    tokens=out_ids,
                    confidence=sum(token_conf) / len(token_conf) if token_conf else 1.0,
                    token_confidence=token_conf,
                    steps=res.steps,
                    seconds=seconds,
                    length=n,
                    candidates=[int(valid[j].sum()) for j in rows],
                    score=float(score[best]),
                )
            )
        return results

    def _canvases(
        self, i: int, r: InfillRequest, probs: torch.Tensor | None, options: SamplerOptions
    ) -> list[list[int]]:
        seed = options.seed
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
        return [[mask] * n for n in self._candidate_lengths(probs[i], options.length_candidates)]

    @staticmethod
    def _needs_length(r: InfillRequest) -> bool:
        if r.length is not None:
            return False
        return r.middle is None or (r.remask is None and r.strength >= 1)

    def _remask_canvas(self, middle: str, ranges: tuple[tuple[int, int], ...]) -> list[int]:
        """`middle`'s tokens with those overlapping `ranges` (and one neighbour on each
        side, since a fix often needs the token next to the error) masked, plus slack."""
        t = self.tokenizer
        ids = t.encode(middle)
        spans = self._token_char_spans(ids, middle)
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

    def _token_char_spans(self, ids: list[int], text: str) -> list[tuple[int, int]]:
        """Character range of each token of `text` (a token may end inside a character)."""
        byte_to_char = []
        for i, ch in enumerate(text):
            byte_to_char += [i] * len(ch.encode("utf-8"))
        byte_to_char.append(len(text))
        spans, pos = [], 0
        for x in ids:
            n = len(self.tokenizer.token_bytes(x))
            spans.append((byte_to_char[pos], byte_to_char[min(pos + n, len(byte_to_char) - 1)]))
            pos += n
        return spans

    def _pick(self, rows, tokens, conf, score, valid, accept) -> int:
        if accept is not None and len(rows) > 1:
            t = self.tokenizer
            ok = []
            for j in rows:
                ids = [x for x in tokens[j, : int(valid[j].sum())].tolist() if x != t.pad_id]
                if accept(t.decode(ids)):
                    ok.append(j)
            rows = ok or rows
        return max(rows, key=lambda j: float(score[j]))


def load(
    path_or_name: str | Path | None = None,
    device: str = "cpu",
    dtype: str = "auto",
) -> Infiller:
    """Load a model folder (the shipped default when None) as an `Infiller`; a Hugging
    Face-format folder of an open diffusion checkpoint loads as an `HFInfiller`.

    device: "cpu", "cuda" or "auto" (CUDA when available).
    dtype: "auto" (bf16 where it is fast, else float32), "bfloat16" or "float32".
    """
    folder = DEFAULT_MODEL if path_or_name in (None, "default") else Path(path_or_name)
    from . import hf_checkpoint

    if checkpoint.read_config(folder).get("model_type") == checkpoint.BLOCK_MODEL_TYPE:
        from .blockdiff import load as load_block

        return load_block(folder, device=device, dtype=dtype)  # type: ignore[return-value]
    if hf_checkpoint.is_hf_folder(folder):  # Dream family, LLaDA: see hf_infiller
        from .hf_infiller import load as load_open_checkpoint

        return load_open_checkpoint(folder, device=device, dtype=dtype)  # type: ignore[return-value]
    dev = resolve_device(device)
    ckpt = checkpoint.load(folder, dev)
    if dtype == "auto":
        torch_dtype = torch.bfloat16 if fast_bf16(dev) else torch.float32
    elif dtype in ("bfloat16", "float32"):
        torch_dtype = getattr(torch, dtype)
    else:
        raise InfillError(f"dtype must be auto, bfloat16 or float32, not {dtype!r}")
    ckpt.model.to(torch_dtype)
    name = "default" if folder == DEFAULT_MODEL else str(folder)
    return Infiller(
        ckpt.model, ckpt.tokenizer, name=name, device=dev, folder=folder, info=ckpt.info
    )
