"""The fill-in-the-middle layout of diffill's block-diffusion model (v2), shared by training
and inference so both lay out a request the same way.

The context is read left to right by a causal transformer, so a token's keys and values
depend only on the tokens before it (Bavarian et al. 2022, "Efficient Training of Language
Models to Fill in the Middle"). Two orders:

    SPM:  <suf> suffix [<eof>] <pre> [<bof>] prefix <mid>   middle <end>
    PSM:  <pre> [<bof>] prefix <suf> suffix [<eof>] <mid>   middle <end>

`<bof>` / `<eof>` mark a prefix that starts at the top of the file and a suffix that runs
to its end (absent when the window cut them). SPM puts the text at the cursor last, so
typing there changes only the last tokens of the context and everything before them can
be reused from a cache; in PSM the whole suffix moves with every keystroke.

Trimming keeps the tokens nearest the gap and cuts on *stable* boundaries: the amount cut
from the far end of the prefix, and the share of the budget the suffix gets while the
prefix is short, move in steps of `quantum` tokens, so a prefix that grows one token at a
time does not shift the whole window at every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tokenizer import CodeTokenizer

ORDERS = ("spm", "psm")

# Tokens added to diffill's tokenizer for this layout (the others already exist: <mask>,
# <bof>, <eof>, and <len> and <pad>, which serve as <mid> and <end>).
FIM_SPECIAL_TOKENS = ("<suf>", "<pre>")


@dataclass(frozen=True)
class FimTokens:
    """The special ids of the layout."""

    suf: int
    pre: int
    mid: int
    end: int
    bof: int
    eof: int
    mask: int


@dataclass(frozen=True)
class Trimmed:
    prefix: list[int]
    suffix: list[int]
    prefix_cut: bool  # the prefix lost its far start
    suffix_cut: bool  # the suffix lost its far end


def _ceil_to(n: int, quantum: int) -> int:
    return -(-n // quantum) * quantum


def trim(prefix: list[int], suffix: list[int], budget: int, quantum: int = 64) -> Trimmed:
    """Prefix and suffix ids cut to at most `budget` tokens in all, nearest the gap kept.

    The suffix gets a third of the budget when both are long, and what the prefix leaves
    when the prefix is short; both amounts move in steps of `quantum` prefix tokens.
    """
    if budget < 1 or quantum < 1:
        raise ValueError("budget and quantum must be positive")
    if len(prefix) + len(suffix) <= budget:
        return Trimmed(prefix, suffix, False, False)
    quantum = min(quantum, max(1, budget // 4))
    keep_suf = min(len(suffix), budget // 3)
    room = budget - keep_suf
    if len(prefix) <= room:
        # The prefix fits: the suffix takes what is left, measured on the prefix length
        # rounded up, so it changes only every `quantum` tokens of prefix growth.
        keep_suf = min(len(suffix), max(keep_suf, budget - _ceil_to(len(prefix), quantum)))
        return Trimmed(prefix, suffix[:keep_suf], False, keep_suf < len(suffix))
    drop = min(len(prefix), _ceil_to(len(prefix) - room, quantum))
    return Trimmed(prefix[drop:], suffix[:keep_suf], drop > 0, keep_suf < len(suffix))


def context_ids(t: Trimmed, order: str, ids: FimTokens) -> list[int]:
    """The context sequence, ending with <mid>: the middle's tokens follow it."""
    prefix = ([] if t.prefix_cut else [ids.bof]) + t.prefix
    suffix = t.suffix + ([] if t.suffix_cut else [ids.eof])
    if order == "spm":
        return [ids.suf, *suffix, ids.pre, *prefix, ids.mid]
    if order == "psm":
        return [ids.pre, *prefix, ids.suf, *suffix, ids.mid]
    raise ValueError(f"FIM order must be one of {ORDERS}, not {order!r}")


def fim_tokens(tok: CodeTokenizer) -> FimTokens:
    """The layout's ids in `tok` (which must carry the FIM sentinels)."""
    if tok.suf_id is None or tok.pre_id is None:
        raise ValueError("the tokenizer lacks the FIM sentinels; use tok.with_fim_tokens()")
    return FimTokens(
        suf=tok.suf_id,
        pre=tok.pre_id,
        mid=tok.len_id,
        end=tok.pad_id,
        bof=tok.bof_id,
        eof=tok.eof_id,
        mask=tok.mask_id,
    )
