"""Absorbing-state masked diffusion for infilling (MDLM, Sahoo et al. 2024; LLaDA, Nie et al.
2025), shaped like the edits diffill makes.

A training example is a window of code in which some spans are cut out. Each span becomes
a *canvas*: its tokens followed by `<pad>` slack, so the model learns where a span ends.
A `<len>` probe at the span's start, which sees only the context, is trained to predict
the span's length. Noise: t ~ U(eps, 1) per example, every canvas token is replaced by
`<mask>` with probability t, and the loss is the cross-entropy on masked positions
weighted by 1/t (the continuous-time ELBO, MDLM eq. 10). A share of examples is plain
masked diffusion over a whole window (one canvas, no context), which teaches the model
the language itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..backends.transformer import DiffusionLM, group_mask
from ..tokenizer import CodeTokenizer

T_EPS = 1e-3
LENGTH_LOSS_WEIGHT = 0.1
PROBE_GROUP_BASE = 10_000  # probe groups are unique and never collide with canvas groups


@dataclass
class Example:
    """One training sequence before noise. Canvas positions hold their clean targets."""

    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    canvas: list[bool] = field(default_factory=list)  # may be masked, carries loss
    keep: list[bool] = field(default_factory=list)  # canvas slack shown unmasked
    length_target: list[int] = field(default_factory=list)  # -1 except at probes

    def __len__(self) -> int:
        return len(self.tokens)

    def _add(self, tok, pos, group, canvas=False, keep=False, length=-1) -> None:
        self.tokens.append(tok)
        self.positions.append(pos)
        self.groups.append(group)
        self.canvas.append(canvas)
        self.keep.append(keep)
        self.length_target.append(length)


def span_example(
    tok: CodeTokenizer,
    text: str,
    spans: list[tuple[int, int]],
    rng: random.Random,
    span_positions: int,
    at_file_start: bool = False,
    at_file_end: bool = False,
    max_tokens: int = 1024,
) -> Example:
    """Cut the sorted, non-overlapping character `spans` out of `text` as canvases.

    Pieces are tokenized separately, as the infiller does at inference time, so the model
    sees the same token boundaries at a cut that it will meet in use. A span whose tokens
    do not fit the canvas is left in the context.
    """
    cuts = [0]
    for a, b in spans:
        cuts += [a, b]
    cuts.append(len(text))
    pieces = [text[cuts[i] : cuts[i + 1]] for i in range(len(cuts) - 1)]
    ids = tok.encode_batch(pieces)
    if at_file_start:
        ids[0] = [tok.bof_id, *ids[0]]
    if at_file_end:
        ids[-1] = [*ids[-1], tok.eof_id]

    ex = Example()
    pos = 0
    group = 0
    for i, piece_ids in enumerate(ids):
        is_span = i % 2 == 1
        n = len(piece_ids)
        slack = rng.randint(0, n // 2 + 2) if is_span else 0
        if is_span and n + slack < span_positions and len(ex) + n + slack + 1 <= max_tokens:
            group += 1
            show_slack = rng.random() < 0.1  # "the length is given" (fixed-length infill)
            for j, t in enumerate(piece_ids):
                ex._add(t, pos + j, group, canvas=True)
            for j in range(slack):
                ex._add(tok.pad_id, pos + n + j, group, canvas=True, keep=show_slack)
            ex._add(tok.len_id, pos, PROBE_GROUP_BASE + group, length=n)
            pos += span_positions
        else:
            room = max_tokens - len(ex)
            for t in piece_ids[:room]:
                ex._add(t, pos, 0)
                pos += 1
    return ex


def plain_example(tok: CodeTokenizer, text: str | Sequence[int], max_tokens: int) -> Example:
    """Plain masked diffusion: the whole window (text, or its token ids) is one canvas."""
    ids = tok.encode(text) if isinstance(text, str) else text
    ex = Example()
    for i, t in enumerate(ids[:max_tokens]):
        ex._add(t, i, 1, canvas=True)
    return ex


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, T) noised tokens
    targets: torch.Tensor  # (B, T) clean tokens
    positions: torch.Tensor  # (B, T)
    # (B, T) attention groups (see `network.group_mask`); the (B, 1, T, T) mask is built
    # where the batch is used, since it is T times larger than the groups.
    groups: torch.Tensor
    noised: torch.Tensor  # (B, T) bool, positions replaced by <mask>
    weight: torch.Tensor  # (B, T) 1/t at noised positions, else 0
    n_canvas: int  # canvas positions in the batch (the loss normaliser)
    probe_index: torch.Tensor  # (P, 2) batch and time index of each <len> probe
    probe_length: torch.Tensor  # (P,)

    def pin_memory(self) -> Batch:  # DataLoader(pin_memory=True) calls this
        return Batch(
            *(
                getattr(self, f).pin_memory()
                if isinstance(getattr(self, f), torch.Tensor)
                else getattr(self, f)
                for f in self.__dataclass_fields__
            )
        )

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            *(
                getattr(self, f).to(device, non_blocking=True)
                if isinstance(getattr(self, f), torch.Tensor)
                else getattr(self, f)
                for f in self.__dataclass_fields__
            )
        )


def collate(examples: list[Example], tok: CodeTokenizer, generator: torch.Generator) -> Batch:
    """Pad examples to one length and apply the forward (masking) process."""
    B = len(examples)
    T = max(len(e) for e in examples)

    def pad(rows, fill, dtype):
        return torch.tensor([r + [fill] * (T - len(r)) for r in rows], dtype=dtype)

    tokens = pad([e.tokens for e in examples], tok.pad_id, torch.long)
    positions = pad([e.positions for e in examples], 0, torch.long)
    groups = pad([e.groups for e in examples], -1, torch.long)
    canvas = pad([e.canvas for e in examples], False, torch.bool)
    keep = pad([e.keep for e in examples], False, torch.bool)
    length_target = pad([e.length_target for e in examples], -1, torch.long)

    # Stratified t across the batch lowers the variance of the 1/t-weighted loss.
    u = (torch.rand(1, generator=generator) + torch.arange(B) / B) % 1.0
    t = T_EPS + (1 - T_EPS) * u  # (B,)
    maskable = canvas & ~keep
    noised = (torch.rand(B, T, generator=generator) < t[:, None]) & maskable
    # Every example with a canvas contributes at least one masked position.
    for b in range(B):
        if maskable[b].any() and not noised[b].any():
            idx = maskable[b].nonzero()[:, 0]
            noised[b, idx[torch.randint(len(idx), (1,), generator=generator)]] = True
    inputs = torch.where(noised, torch.full_like(tokens, tok.mask_id), tokens)
    weight = noised.float() / t[:, None]
    probe_index = (length_target >= 0).nonzero()
    probe_length = length_target[length_target >= 0]
    return Batch(
        inputs=inputs,
        targets=tokens,
        positions=positions,
        groups=groups,
        noised=noised,
        weight=weight,
        n_canvas=int(canvas.sum()),
        probe_index=probe_index,
        probe_length=probe_length,
    )


def diffusion_loss(model: DiffusionLM, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    """1/t-weighted masked cross-entropy per canvas token, plus the length-head loss."""
    h, _ = model.hidden(batch.inputs, batch.positions, group_mask(batch.groups))  # (B, T, C)
    sel = batch.noised
    logits = model.token_logits(h[sel])  # (N, V): only masked positions need the vocab
    ce = F.cross_entropy(logits.float(), batch.targets[sel], reduction="none")  # (N,)
    token_loss = (ce * batch.weight[sel]).sum() / max(batch.n_canvas, 1)
    stats = {"token_loss": float(token_loss.detach()), "masked_ce": float(ce.detach().mean())}
    loss = token_loss
    if len(batch.probe_length):
        ph = h[batch.probe_index[:, 0], batch.probe_index[:, 1]]  # (P, C)
        length_logits = model.length_logits(ph).float()
        length_loss = F.cross_entropy(length_logits, batch.probe_length)
        loss = loss + LENGTH_LOSS_WEIGHT * length_loss
        stats["length_loss"] = float(length_loss.detach())
        stats["length_acc"] = float((length_logits.argmax(-1) == batch.probe_length).float().mean())
    return loss, stats
