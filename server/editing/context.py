"""The prefix and suffix a request shows the model, within its token budget.

Nearest code first: whole lines are taken outward from the span until the budget is spent
(two thirds for the prefix, the rest for the suffix, unused share flowing to the other
side). When the file's imports or the signatures of the class and function enclosing the
span would fall out of the prefix, they are pinned in front of it, because they say which
names exist and what the span belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import tree_sitter

from ..document import Document
from ..syntax import LanguageSpec

PREFIX_SHARE = 2 / 3
PIN_SHARE = 1 / 4  # at most this share of the budget goes to pinned imports and signatures


@dataclass(frozen=True)
class Window:
    prefix: str
    suffix: str
    # Document offsets where the contiguous part of the prefix starts and the suffix ends.
    prefix_start: int
    suffix_end: int
    pinned: tuple[str, ...] = field(default=())  # "imports", "signatures"

    @property
    def trimmed(self) -> bool:
        return bool(self.pinned) or self.prefix_start > 0


def _lines_with_ends(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def build_window(
    doc: Document,
    start: int,
    end: int,
    budget: int,
    count_tokens: Callable[[Sequence[str]], list[int]],
    tree: tree_sitter.Tree | None = None,
    lang: LanguageSpec | None = None,
) -> Window:
    """Prefix and suffix around doc.text[start:end] that fit `budget` tokens.

    count_tokens: token counts of a batch of strings (the model's tokenizer).
    tree, lang: the parse of `doc`, for pinning imports and enclosing signatures.
    """
    text = doc.text
    prefix_full, suffix_full = text[:start], text[end:]
    pre_lines = _lines_with_ends(prefix_full)
    suf_lines = _lines_with_ends(suffix_full)
    pre_counts = count_tokens(pre_lines) if pre_lines else []
    suf_counts = count_tokens(suf_lines) if suf_lines else []
    if sum(pre_counts) + sum(suf_counts) <= budget:
        return Window(prefix_full, suffix_full, 0, len(text))

    pins: list[str] = []
    pinned_kinds: list[str] = []
    if tree is not None and lang is not None:
        pins, pinned_kinds = _pins(doc, tree, lang, start, budget, count_tokens)
    pin_tokens = sum(count_tokens(pins)) if pins else 0
    room = max(0, budget - pin_tokens)

    # Take lines outward: the prefix's own share first, leftovers to the suffix and back.
    want_pre = int(room * PREFIX_SHARE)
    n_pre, used_pre = _take(reversed(pre_counts), want_pre)
    n_suf, used_suf = _take(suf_counts, room - used_pre)
    n_pre, used_pre = _take(reversed(pre_counts), room - used_suf)
    prefix_start = len(prefix_full) - sum(len(line) for line in pre_lines[len(pre_lines) - n_pre :])
    prefix_near = prefix_full[prefix_start:]
    suffix_near = "".join(suf_lines[:n_suf])

    # Pins that already lie inside the window are not repeated.
    pins = [p for p in pins if p not in prefix_near]
    if prefix_start == 0:
        pins = []
    head = "".join(p if p.endswith("\n") else p + "\n" for p in pins)
    return Window(
        head + prefix_near,
        suffix_near,
        prefix_start,
        end + len(suffix_near),
        tuple(k for k in pinned_kinds if pins),
    )


def _take(counts, budget: int) -> tuple[int, int]:
    n = used = 0
    for c in counts:
        if used + c > budget:
            break
        used += c
        n += 1
    return n, used


def _pins(
    doc: Document,
    tree: tree_sitter.Tree,
    lang: LanguageSpec,
    start: int,
    budget: int,
    count_tokens: Callable[[Sequence[str]], list[int]],
) -> tuple[list[str], list[str]]:
    """Import statements and enclosing scope headers before `start`, within PIN_SHARE."""
    limit = int(budget * PIN_SHARE)
    start_byte = doc.byte_offset(start)
    imports: list[str] = []
    for child in tree.root_node.children:
        if child.start_byte >= start_byte:
            break
        if child.type in lang.import_types:
            imports.append(_node_text(doc, child))

    headers: list[str] = []
    node: tree_sitter.Node | None = tree.root_node.descendant_for_byte_range(start_byte, start_byte)
    while node is not None:
        if node.type in lang.scope_types and node.start_byte < start_byte:
            body = node.child_by_field_name("body")
            if body is not None and body.start_byte <= start_byte:
                header_start = doc.offset_from_byte(node.start_byte)
                line_start = doc.text.rfind("\n", 0, header_start) + 1
                header = doc.text[line_start : doc.offset_from_byte(body.start_byte)].rstrip()
                headers.append(header)
        node = node.parent
    headers.reverse()

    pins: list[str] = []
    kinds: list[str] = []
    used = 0
    for kind, group in (("imports", imports), ("signatures", headers)):
        counts = count_tokens(group) if group else []
        took = False
        for piece, c in zip(group, counts):
            if used + c > limit:
                break
            pins.append(piece)
            used += c
            took = True
        if took:
            kinds.append(kind)
    return pins, kinds


def _node_text(doc: Document, node: tree_sitter.Node) -> str:
    a = doc.offset_from_byte(node.start_byte)
    b = doc.offset_from_byte(node.end_byte)
    return doc.text[a:b]
