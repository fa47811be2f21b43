"""The autoregressive peer that diffusion decoding is measured against.

It is the same network (`DiffusionLM` with `causal=True`), the same size and tokenizer,
trained on the same windows and spans as the diffusion model, with the fill-in-the-middle
transformation in prefix-suffix-middle order (Bavarian et al. 2022):

    [<bof>] prefix  SUFFIX  suffix [<eof>]  MIDDLE  middle  END

and decoded greedily, one token per model call, with a key/value cache. It shares the
diffusion model's tokenizer, so its sentinels are that tokenizer's special tokens, which
never occur in text: SUFFIX is `<mask>`, MIDDLE is `<len>` and END is `<pad>`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import checkpoint
from ..hardware import fast_bf16, resolve_device
from ..tokenizer import CodeTokenizer
from .mdlm import trim_context
from .transformer import DiffusionLM


def sentinels(tok: CodeTokenizer) -> tuple[int, int, int]:
    """(SUFFIX, MIDDLE, END) token ids."""
    return tok.mask_id, tok.len_id, tok.pad_id


def fim_example(
    tok: CodeTokenizer,
    text: str,
    span: tuple[int, int],
    at_file_start: bool,
    at_file_end: bool,
    max_tokens: int,
) -> list[int] | None:
    """One PSM sequence cutting `span` out of `text`, or None when the middle is too long.

    Pieces are tokenized separately, as at inference time (and as the diffusion model's
    training examples are). Over `max_tokens`, the prefix loses its far start and the
    suffix its far end, so the tokens next to the gap stay.
    """
    suffix_id, middle_id, end_id = sentinels(tok)
    a, b = span
    pre, mid, suf = tok.encode_batch([text[:a], text[a:b], text[b:]])
    if at_file_start:
        pre = [tok.bof_id, *pre]
    if at_file_end:
        suf = [*suf, tok.eof_id]
    room = max_tokens - len(mid) - 3
    if room < 16:
        return None
    keep_suf = min(len(suf), room // 3)
    keep_pre = min(len(pre), room - keep_suf)
    keep_suf = min(len(suf), room - keep_pre)
    pre = pre[len(pre) - keep_pre :]
    suf = suf[:keep_suf]
    return [*pre, suffix_id, *suf, middle_id, *mid, end_id]


@dataclass
class ARBatch:
    inputs: torch.Tensor  # (B, T)
    targets: torch.Tensor  # (B, T); -100 where no loss
    positions: torch.Tensor  # (B, T)
    middle: torch.Tensor  # (B, T) bool: targets inside a FIM middle (and its END)

    def to(self, device: torch.device | str) -> ARBatch:
        return ARBatch(*(getattr(self, f).to(device, non_blocking=True) for f in _AR_FIELDS))

    def pin_memory(self) -> ARBatch:
        return ARBatch(*(getattr(self, f).pin_memory() for f in _AR_FIELDS))


_AR_FIELDS = ("inputs", "targets", "positions", "middle")


def collate(sequences: Sequence[list[int]], tok: CodeTokenizer) -> ARBatch:
    """Next-token targets over whole sequences (prefix and suffix teach the language too)."""
    _, middle_id, _ = sentinels(tok)
    B = len(sequences)
    T = max(len(s) for s in sequences) - 1
    inputs = torch.full((B, T), tok.pad_id)
    targets = torch.full((B, T), -100)
    middle = torch.zeros(B, T, dtype=torch.bool)
    for i, s in enumerate(sequences):
        n = len(s) - 1
        inputs[i, :n] = torch.tensor(s[:-1])
        targets[i, :n] = torch.tensor(s[1:])
        if middle_id in s:
            start = s.index(middle_id)
            middle[i, start:n] = True
    positions = torch.arange(T).expand(B, T).contiguous()
    return ARBatch(inputs, targets, positions, middle)


def causal_loss(model: DiffusionLM, batch: ARBatch) -> tuple[torch.Tensor, dict[str, float]]:
    h, _ = model.hidden(batch.inputs, batch.positions)
    sel = batch.targets >= 0
    logits = model.token_logits(h[sel]).float()
    ce = F.cross_entropy(logits, batch.targets[sel], reduction="none")
    loss = ce.mean()
    stats = {"ce": float(loss.detach())}
    in_middle = batch.middle[sel]
    if in_middle.any():
        stats["middle_ce"] = float(ce[in_middle].mean().detach())
    return loss, stats


@dataclass
class ARResult:
    text: str
    tokens: int  # generated, END excluded
    steps: int  # model calls after the prompt (one per token)
    seconds: float
    stopped: bool  # True when the model ended the middle itself


class ARInfiller:
    """Left-to-right fill-in-the-middle with a key/value cache, one request at a time."""

    predicts_length = False
    model_type = "diffill-fim-ar"

    def __init__(
        self,
        model: DiffusionLM,
        tokenizer: CodeTokenizer,
        max_context_tokens: int = 2048,
        max_new_tokens: int = 128,
        name: str = "ar-peer",
        folder: Path | None = None,
    ) -> None:
        if not model.cfg.causal:
            raise ValueError("the autoregressive peer needs a causal model")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.folder = folder
        self.max_context_tokens = max_context_tokens
        self.max_new_tokens = max_new_tokens
        self.device = next(model.parameters()).device
        t = tokenizer
        _, _, self.end_id = sentinels(t)
        self.forbidden = torch.tensor(sorted(t.special_ids - {self.end_id}), device=self.device)

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters()

    def prompt(self, prefix: str, suffix: str) -> list[int]:
        t = self.tokenizer
        suffix_id, middle_id, _ = sentinels(t)
        pre, suf, pre_cut, suf_cut = trim_context(
            t.encode(prefix), t.encode(suffix), self.max_context_tokens
        )
        if not pre_cut:
            pre = [t.bof_id, *pre]
        if not suf_cut:
            suf = [*suf, t.eof_id]
        return [*pre, suffix_id, *suf, middle_id]

    @torch.no_grad()
    def infill(
        self,
        prefix: str,
        suffix: str = "",
        max_new_tokens: int | None = None,
        min_new_tokens: int = 0,
    ) -> ARResult:
        """Greedy middle. `min_new_tokens` holds END back (for timing fixed lengths)."""
        t0 = time.perf_counter()
        limit = max_new_tokens or self.max_new_tokens
        ids = self.prompt(prefix, suffix)
        tokens = torch.tensor([ids], device=self.device)
        positions = torch.arange(len(ids), device=self.device)[None]
        h, kv = self.model.hidden(tokens, positions)
        out: list[int] = []
        pos = len(ids)
        stopped = False
        steps = 0
        while True:
            logits = self.model.token_logits(h[:, -1]).float()[0]
            logits[self.forbidden] = float("-inf")
            if len(out) < min_new_tokens:
                logits[self.end_id] = float("-inf")
            nxt = int(logits.argmax())
            if nxt == self.end_id:
                stopped = True
                break
            out.append(nxt)
            if len(out) >= limit:
                break
            step_tokens = torch.tensor([[nxt]], device=self.device)
            step_pos = torch.tensor([[pos]], device=self.device)
            h, new = self.model.hidden(step_tokens, step_pos, past=kv)
            kv = [
                (torch.cat((k, nk), dim=2), torch.cat((v, nv), dim=2))
                for (k, v), (nk, nv) in zip(kv, new)
            ]
            pos += 1
            steps += 1
        text = self.tokenizer.decode(out)
        return ARResult(text, len(out), steps, time.perf_counter() - t0, stopped)

    def infill_batch(self, pairs, length: int | None = None, **_ignored) -> list[ARResult]:
        """One by one: an editor waits on one request; batching would flatter throughput."""
        return [self.infill(p, s, max_new_tokens=length) for p, s in pairs]


def load(folder: str | Path, device: str = "cpu", dtype: str = "auto") -> ARInfiller:
    dev = resolve_device(device)
    ckpt = checkpoint.load(folder, dev, model_type=checkpoint.AR_MODEL_TYPE)
    if dtype == "auto":
        ckpt.model.to(torch.bfloat16 if fast_bf16(dev) else torch.float32)
    else:
        ckpt.model.to(getattr(torch, dtype))
    return ARInfiller(ckpt.model, ckpt.tokenizer, name=str(folder), folder=Path(folder))
