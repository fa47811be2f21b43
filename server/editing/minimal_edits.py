"""Minimal text edits: the few small edits that turn a span's old text into its new one,
so an editor applying them keeps the cursor, marks and folds on the lines that did not
change."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ..document import TextEdit

# LSP's line terminators (as in Document).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Inside a changed line, a run of fewer unchanged characters than this between two
# changes is a coincidental match ("return" -> "yield" sharing an "e"); splitting an edit
# around it only scatters the change into fragments, so the two changes are merged.
_MIN_KEPT_RUN = 2


def _common_prefix_len(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    i = 0
    while i < limit and a[i] == b[i]:
        i += 1
    return i


def _common_suffix_len(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    i = 0
    while i < limit and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def _split_lines(text: str) -> list[str]:
    """Lines with their endings kept, so joining them gives `text` back."""
    lines: list[str] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _trimmed_edit(old: str, new: str, at: int) -> TextEdit | None:
    """One edit turning `old` (at document offset `at`) into `new`, without the parts they
    share at either end; None when they are equal."""
    if old == new:
        return None
    prefix = _common_prefix_len(old, new)
    suffix = _common_suffix_len(old[prefix:], new[prefix:])
    return TextEdit(at + prefix, at + len(old) - suffix, new[prefix : len(new) - suffix])


_WORD = re.compile(r"\w+|\s+|[^\w\s]")


def _character_edits(old: str, new: str, at: int) -> list[TextEdit]:
    """Edits turning one line into another, diffed on words and single symbols, so a
    renamed identifier is one edit rather than fragments around shared letters."""
    prefix = _common_prefix_len(old, new)
    suffix = _common_suffix_len(old[prefix:], new[prefix:])
    old_mid, new_mid = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    at += prefix
    if not old_mid or not new_mid:
        return [TextEdit(at, at + len(old_mid), new_mid)]
    old_words, new_words = _WORD.findall(old_mid), _WORD.findall(new_mid)
    old_at, new_at = _starts(old_words), _starts(new_words)
    # autojunk off: its "popular element" heuristic would ignore spaces in long lines.
    matcher = SequenceMatcher(None, old_words, new_words, autojunk=False)
    changes: list[list[int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a, b, c, d = old_at[i1], old_at[i2], new_at[j1], new_at[j2]
        if changes and a - changes[-1][1] < _MIN_KEPT_RUN:
            changes[-1][1], changes[-1][3] = b, d
        else:
            changes.append([a, b, c, d])
    return [TextEdit(at + i1, at + i2, new_mid[j1:j2]) for i1, i2, j1, j2 in changes]


def _starts(words: list[str]) -> list[int]:
    out = [0]
    for w in words:
        out.append(out[-1] + len(w))
    return out


def minimal_edits(old: str, new: str, base: int = 0) -> list[TextEdit]:
    """Small, non-overlapping edits (sorted by offset) turning `old` into `new`.

    `old` is a span of a document starting at document offset `base`; the edits carry
    document offsets. Lines that did not change keep their place untouched, so an editor
    applying the edits keeps the cursor, marks and folds on them.
    """
    if old == new:
        return []
    prefix = _common_prefix_len(old, new)
    suffix = _common_suffix_len(old[prefix:], new[prefix:])
    old_mid, new_mid = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    at = base + prefix
    if not old_mid or not new_mid:
        return [TextEdit(at, at + len(old_mid), new_mid)]

    old_lines, new_lines = _split_lines(old_mid), _split_lines(new_mid)
    if len(old_lines) == 1 and len(new_lines) == 1:
        return _character_edits(old_mid, new_mid, at)
    old_starts = [0]
    for line in old_lines:
        old_starts.append(old_starts[-1] + len(line))
    new_starts = [0]
    for line in new_lines:
        new_starts.append(new_starts[-1] + len(line))

    edits: list[TextEdit] = []
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old_block = old_mid[old_starts[i1] : old_starts[i2]]
        new_block = new_mid[new_starts[j1] : new_starts[j2]]
        block_at = at + old_starts[i1]
        if tag == "replace" and i2 - i1 == 1 and j2 - j1 == 1:
            edits.extend(_character_edits(old_block, new_block, block_at))
        else:
            edit = _trimmed_edit(old_block, new_block, block_at)
            if edit is not None:
                edits.append(edit)
    return edits
