"""Training examples and loss of the autoregressive peer (`backends.autoregressive`):
fill-in-the-middle sequences in prefix-suffix-middle order (Bavarian et al. 2022),

    [<bof>] prefix  SUFFIX  suffix [<eof>]  MIDDLE  middle  END

next-token targets over whole sequences, and the causal cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..backends.autoregressive import sentinels
from ..backends.transformer import DiffusionLM
from ..requests import trim_context
from ..tokenizer import CodeTokenizer


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
    suffix its far end, so the tokens next to the gap stay (as `trim_context` cuts a
    request's context).
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
    pre, suf, _, _ = trim_context(pre, suf, room)
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
