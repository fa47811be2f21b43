"""Training objectives of the block-diffusion model (v2): a causal fill-in-the-middle LM
first, then block-diffusion adaptation (Arriola et al. 2025, BD3-LM; Wu et al. 2025,
Fast-dLLM v2), on the same examples.

An example is one window of code with one span cut out, laid out as `fim` describes:

    context ... <mid>  x_1 ... x_n <end> <end>...      (the clean stream, causal)

The clean stream is read causally; its next-token cross-entropy is the AR objective (every
position predicts the next token, so the context teaches the language too). The middle,
followed by <end> and padded with <end> to whole blocks of `block_size`, is what the model
writes at inference time.

Block diffusion adds *noisy groups* after the clean stream. A group copies one block
x_s .. x_{s+B-1} with some tokens replaced by <mask>, preceded by its *anchor*, the clean
token x_{s-1}. Group tokens attend to the clean stream before s and to each other in both
directions; the output at group slot i predicts x_{s+i} (the token shift keeps the AR
model's "position predicts the next token", so AR weights carry over), and the loss is
taken where slot i+1 is masked. Because the anchor sits inside the group, even the block's
first token is predicted with the rest of the block in view. Each block gets two groups
with complementary masks (Fast-dLLM v2), so every token of it carries a loss exactly once.
Besides the middle's blocks, blocks from the context get groups too (`extra_block_share`
of the context's tokens): more diffusion signal per example for little extra compute.

Objectives (`OBJECTIVES`):
    block-ar         the clean stream's AR loss only (phase 1; no groups);
    block-mixed      AR loss plus the groups' diffusion loss (phase 2, or from scratch);
    block-diffusion  the groups' diffusion loss only (diffusion from scratch, for ablation).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .. import fim
from ..backends.transformer import DiffusionLM
from ..fim import fim_tokens
from ..tokenizer import CodeTokenizer

OBJECTIVES = ("block-ar", "block-mixed", "block-diffusion")
IGNORE = -100


@dataclass
class BlockExample:
    """One sequence: the clean stream, then the noisy groups (if any)."""

    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    # Clean keys at sequence index < limit[q] are visible to q (clean: q + 1, causal;
    # a group: its block start s).
    limit: list[int] = field(default_factory=list)
    group: list[int] = field(default_factory=list)  # 0 clean, g > 0 a noisy group
    ar_target: list[int] = field(default_factory=list)  # next token, IGNORE where none
    diff_target: list[int] = field(default_factory=list)  # IGNORE where not masked
    in_middle: list[bool] = field(default_factory=list)  # the target lies in the middle
    n_clean: int = 0

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class BlockOptions:
    """How a stream lays out block-model examples.

    objective: one of OBJECTIVES.
    block_size: tokens per block (>= 1); order: the FIM order ("spm" or "psm").
    extra_block_share: share of the context's tokens that get noisy groups besides the
        middle's (at least half with the diffusion-only objective, which has no other loss).
    max_total: with it, no example is longer (compiled training pads batches to it).
    max_middle_tokens: longer middles are not used.
    """

    objective: str
    block_size: int = 32
    order: str = "spm"
    extra_block_share: float = 0.15
    max_total: int | None = None
    max_middle_tokens: int = 256

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        if self.block_size < 1:
            raise ValueError(f"block size must be >= 1, not {self.block_size!r}")
        if self.order not in fim.ORDERS:
            raise ValueError(f"FIM order must be one of {fim.ORDERS}, not {self.order!r}")

    @property
    def ar_loss(self) -> bool:
        return self.objective != "block-diffusion"

    @property
    def groups(self) -> bool:
        return self.objective != "block-ar"

    @property
    def group_share(self) -> float:
        return self.extra_block_share if self.ar_loss else max(self.extra_block_share, 0.5)

    def group_room(self, clean_tokens: int) -> int | None:
        """How many blocks can get their two groups beside a clean stream this long."""
        if self.max_total is None:
            return None
        return (self.max_total - clean_tokens) // (2 * (self.block_size + 1))


def _clean_stream(
    clean: list[int], ar_until: int, middle: range, opts: BlockOptions
) -> BlockExample:
    """The clean stream of `clean`, read causally, with next-token targets before index
    `ar_until` (when the objective has an AR loss); `middle` marks targets in the middle."""
    ex = BlockExample(n_clean=len(clean))
    for i, t in enumerate(clean):
        ex.tokens.append(t)
        ex.positions.append(i)
        ex.limit.append(i + 1)
        ex.group.append(0)
        ex.ar_target.append(clean[i + 1] if opts.ar_loss and i < ar_until else IGNORE)
        ex.diff_target.append(IGNORE)
        ex.in_middle.append(i in middle)
    return ex


def block_example(
    tok: CodeTokenizer,
    text: str,
    span: tuple[int, int],
    rng: random.Random,
    opts: BlockOptions,
    *,
    max_tokens: int,
    at_file_start: bool = False,
    at_file_end: bool = False,
) -> BlockExample | None:
    """The example cutting `span` out of `text`, or None when its middle is too long.

    Pieces are tokenized separately, as at inference time. `max_tokens` bounds the clean
    stream (context, middle, <end> padding); the groups come on top, and with
    `opts.max_total` the whole sequence stays within it (context blocks are left out
    first; None when even the middle's groups do not fit).
    """
    ids = fim_tokens(tok)
    a, b = span
    pre, mid, suf = tok.encode_batch([text[:a], text[a:b], text[b:]])
    B = opts.block_size
    n_blocks = -(-(len(mid) + 1) // B)
    if len(mid) > opts.max_middle_tokens:
        return None
    room = max_tokens - n_blocks * B - 5  # 5: sentinels, <bof> and <eof>
    if room < 16:
        return None
    cut = fim.trim(pre, suf, room, quantum=1)
    cut = fim.Trimmed(
        cut.prefix,
        cut.suffix,
        cut.prefix_cut or not at_file_start,
        cut.suffix_cut or not at_file_end,
    )
    ctx = fim.context_ids(cut, opts.order, ids)
    clean = ctx + mid + [ids.end] * (n_blocks * B - len(mid))
    m0 = len(ctx)  # index of the first middle token
    first_end = m0 + len(mid)
    ex = _clean_stream(clean, first_end, range(m0 - 1, first_end), opts)
    if not opts.groups:
        return ex
    starts = [m0 + k * B for k in range(n_blocks)]
    group_room = opts.group_room(len(clean))
    if group_room is not None and group_room < n_blocks:
        return None
    # Extra blocks from the context, not overlapping each other or the middle.
    want = int(opts.group_share * (m0 - 1) / B)
    if group_room is not None:
        want = min(want, group_room - n_blocks)
    taken: set[int] = set()
    for _ in range(want * 3):
        if len(taken) >= want or m0 - 1 - B < 1:
            break
        s = rng.randrange(1, m0 - B)
        if any(abs(s - o) < B for o in taken):
            continue
        taken.add(s)
    starts += sorted(taken)
    _add_groups(ex, clean, starts, B, rng, tok, middle_from=m0)
    return ex


def plain_block_example(
    tok: CodeTokenizer, ids: list[int], rng: random.Random, opts: BlockOptions
) -> BlockExample:
    """A window of code with no gap, read left to right (the share of examples that are
    plain text, as in FIM training), with groups over some of its blocks (as many as fit
    `opts.max_total`)."""
    ex = _clean_stream(ids, len(ids) - 1, range(0), opts)
    if not opts.groups:
        return ex
    B = opts.block_size
    starts = list(range(1, len(ids) - B + 1, B))
    rng.shuffle(starts)
    count = max(1, int(opts.group_share * len(ids) / B))
    group_room = opts.group_room(len(ids))
    if group_room is not None:
        count = min(count, group_room)
    _add_groups(ex, ids, sorted(starts[: max(0, count)]), B, rng, tok)
    return ex


def _add_groups(
    ex: BlockExample,
    clean: list[int],
    starts: list[int],
    B: int,
    rng: random.Random,
    tok: CodeTokenizer,
    middle_from: int | None = None,
) -> None:
    """Two complementary noisy groups for each block x_s .. x_{s+B-1}, s in `starts`."""
    group = max(ex.group, default=0)
    for s in starts:
        if s < 1 or s + B > len(clean):
            continue
        t = rng.random()
        masked = [rng.random() < t for _ in range(B)]
        if not any(masked):
            masked[rng.randrange(B)] = True
        if all(masked) and B > 1:
            masked[rng.randrange(B)] = False
        in_mid = middle_from is not None and s >= middle_from
        for flip in (False, True):
            group += 1
            m = [x != flip for x in masked]
            # The anchor x_{s-1}: clean, its output predicts x_s.
            ex.tokens.append(clean[s - 1])
            ex.positions.append(s - 1)
            ex.limit.append(s)
            ex.group.append(group)
            ex.ar_target.append(IGNORE)
            ex.diff_target.append(clean[s] if m[0] else IGNORE)
            ex.in_middle.append(in_mid)
            for j in range(B):
                ex.tokens.append(tok.mask_id if m[j] else clean[s + j])
                ex.positions.append(s + j)
                ex.limit.append(s)
                ex.group.append(group)
                ex.ar_target.append(IGNORE)
                nxt = j + 1 < B and m[j + 1]
                ex.diff_target.append(clean[s + j + 1] if nxt else IGNORE)
                ex.in_middle.append(in_mid)


@dataclass
class BlockBatch:
    inputs: torch.Tensor  # (B, T)
    positions: torch.Tensor  # (B, T)
    limit: torch.Tensor  # (B, T)
    group: torch.Tensor  # (B, T); -1 is batch padding
    ar_target: torch.Tensor  # (B, T)
    diff_target: torch.Tensor  # (B, T)
    in_middle: torch.Tensor  # (B, T) bool
    has_groups: bool

    def to(self, device: torch.device | str) -> BlockBatch:
        moved = {f: getattr(self, f).to(device, non_blocking=True) for f in _TENSORS}
        return dataclasses.replace(self, **moved)

    def pin_memory(self) -> BlockBatch:  # DataLoader(pin_memory=True) calls this
        return dataclasses.replace(self, **{f: getattr(self, f).pin_memory() for f in _TENSORS})

    def attention_mask(self) -> torch.Tensor | None:
        """(B, 1, T, T) bool, True = may attend; None when the batch is purely causal."""
        if not self.has_groups:
            return None
        T = self.inputs.shape[1]
        idx = torch.arange(T, device=self.inputs.device)
        clean_k = (self.group == 0)[:, None, :] & (idx[None, None, :] < self.limit[:, :, None])
        same = (self.group[:, :, None] == self.group[:, None, :]) & (self.group > 0)[:, :, None]
        eye = torch.eye(T, dtype=torch.bool, device=self.inputs.device)[None]
        return (clean_k | same | eye)[:, None]


_TENSORS = ("inputs", "positions", "limit", "group", "ar_target", "diff_target", "in_middle")


def collate(
    examples: list[BlockExample], tok: CodeTokenizer, pad_to: int | None = None
) -> BlockBatch:
    """Pad to one length (at least `pad_to`). Padding is group -1 and attends only to
    itself."""
    T = max(pad_to or 0, *(len(e) for e in examples))

    def pad(rows, fill, dtype=torch.long):
        return torch.tensor([r + [fill] * (T - len(r)) for r in rows], dtype=dtype)

    return BlockBatch(
        inputs=pad([e.tokens for e in examples], tok.pad_id),
        positions=pad([e.positions for e in examples], 0),
        limit=pad([e.limit for e in examples], 0),
        group=pad([e.group for e in examples], -1),
        ar_target=pad([e.ar_target for e in examples], IGNORE),
        diff_target=pad([e.diff_target for e in examples], IGNORE),
        in_middle=pad([e.in_middle for e in examples], False, torch.bool),
        has_groups=any(len(e) > e.n_clean for e in examples),
    )


def block_loss(model: DiffusionLM, batch: BlockBatch) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean AR cross-entropy of the clean stream plus mean diffusion cross-entropy of the
    masked group slots (whichever the batch has targets for)."""
    mask = batch.attention_mask()
    # A purely causal batch takes the causal kernel (no mask); right padding is harmless
    # there, since padding comes after every real token and carries no target.
    h, _ = model.hidden(batch.inputs, batch.positions, mask, causal=mask is None)
    loss = h.new_zeros((), dtype=torch.float32)
    stats: dict[str, float] = {}
    for name, targets in (("ar", batch.ar_target), ("diff", batch.diff_target)):
        sel = targets != IGNORE
        if not bool(sel.any()):
            continue
        ce = F.cross_entropy(model.token_logits(h[sel]).float(), targets[sel], reduction="none")
        loss = loss + ce.mean()
        stats[f"{name}_ce"] = float(ce.detach().mean())
        mid = batch.in_middle[sel]
        if bool(mid.any()):
            stats[f"{name}_middle_ce"] = float(ce.detach()[mid].mean())
    stats["loss"] = float(loss.detach())
    return loss, stats


def token_byte_counts(tok: CodeTokenizer) -> torch.Tensor:
    """(vocab,) the bytes of text each token id stands for; special tokens stand for none."""
    return torch.tensor(
        [0 if i in tok.special_ids else len(tok.token_bytes(i)) for i in range(tok.vocab_size)],
        dtype=torch.float64,
    )


@torch.no_grad()
def ar_nats_and_bytes(
    model: DiffusionLM, batch: BlockBatch, byte_counts: torch.Tensor
) -> dict[str, float]:
    """Summed next-token negative log-likelihood (nats) of the clean stream, and the bytes
    of text its targets stand for, over every target and over the middle's (the middle's
    `<end>`s count in its nats, not its bytes). Bits per byte is nats / bytes / ln 2: it
    compares models whatever their tokenizers, FIM layouts or sequence lengths."""
    mask = batch.attention_mask()
    h, _ = model.hidden(batch.inputs, batch.positions, mask, causal=mask is None)
    sel = batch.ar_target != IGNORE
    targets = batch.ar_target[sel]
    nats = F.cross_entropy(model.token_logits(h[sel]).float(), targets, reduction="none")
    nbytes = byte_counts.to(targets.device)[targets]
    mid = batch.in_middle[sel]
    return {
        "nats": float(nats.sum()),
        "bytes": float(nbytes.sum()),
        "tokens": int(targets.numel()),
        "middle_nats": float(nats[mid].sum()),
        "middle_bytes": float(nbytes[mid].sum()),
        "middle_tokens": int(mid.sum()),
    }
