"""A source file as the engine, the CLI and the LSP server see it, and position conversions.

Every position that crosses a boundary goes through a `Document`: LSP clients count
characters in UTF-16 (or UTF-8 / UTF-32 when negotiated), tree-sitter counts UTF-8 bytes,
and Python strings count code points. Converting in one place keeps the three doors from
disagreeing about where an edit lands, and keeping the BOM and the exact line endings
here lets the CLI write a file back byte-for-byte.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

__all__ = [
    "Document",
    "DocumentError",
    "Encoding",
    "Position",
    "TextEdit",
    "edit_positions",
]

_BOM = b"\xef\xbb\xbf"
# Git and grep use the same heuristic: a NUL byte near the start means binary. 8000 is
# git's window (buffer_is_binary).
_BINARY_SNIFF_BYTES = 8000
# LSP's line terminators. Deliberately not str.splitlines, which also breaks on \v, \f,
# \x1c-\x1e, \x85, \u2028 and \u2029, none of which editors treat as line breaks.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NEWLINES = ("\n", "\r\n", "\r")
_DEFAULT_INDENT = "    "
# Indent steps wider than this between consecutive lines are alignment (hanging
# continuation lines, arguments lined up under a parenthesis), not the file's step.
_MAX_INDENT_STEP = 8


class DocumentError(ValueError):
    """Bad input about a document; the message is meant for the user."""


class Encoding(str, Enum):
    """LSP position encodings: a position's `character` counts code units of this encoding."""

    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"


@dataclass(frozen=True)
class Position:
    """0-based line and character; the character counts code units of some `Encoding`."""

    line: int
    character: int


@dataclass(frozen=True)
class TextEdit:
    """Replace `Document.text[start:end]` (code-point offsets, end exclusive) with `new_text`."""

    start: int
    end: int
    new_text: str

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise DocumentError(f"invalid edit range {self.start}..{self.end}")


def _encoding(encoding: Encoding | str) -> Encoding:
    try:
        return Encoding(encoding)
    except ValueError:
        names = ", ".join(e.value for e in Encoding)
        raise DocumentError(f"unknown position encoding {encoding!r} (use {names})") from None


def _code_units(segment: str, encoding: Encoding) -> int:
    """Length of `segment` in code units of `encoding`."""
    if encoding is Encoding.UTF32 or segment.isascii():
        return len(segment)
    if encoding is Encoding.UTF16:
        return len(segment.encode("utf-16-le")) // 2
    return len(segment.encode("utf-8"))


def _code_points(segment: str, units: int, encoding: Encoding) -> int:
    """How many code points of `segment` fit in its first `units` code units.

    Cutting the encoded text and decoding with errors="ignore" drops a code point that was
    cut in half (half a surrogate pair, part of a UTF-8 sequence), which is exactly the
    "snap back to the start of the code point" LSP asks for, at C speed.
    """
    if encoding is Encoding.UTF32 or segment.isascii():
        return min(units, len(segment))
    if encoding is Encoding.UTF16:
        cut = segment.encode("utf-16-le")[: 2 * units]
        return len(cut.decode("utf-16-le", errors="ignore"))
    return len(segment.encode("utf-8")[:units].decode("utf-8", errors="ignore"))


_LONE_LF = re.compile(r"(?<!\r)\n")
_LONE_CR = re.compile(r"\r(?!\n)")


def _dominant_newline(text: str) -> str:
    # Counted with str.count and regex searches, at C speed: the Language Server makes a
    # Document per change, and a Python loop over every line break of a large file would
    # hold up its event loop on each keystroke.
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    counts = {nl: n for nl, n in counts.items() if n}
    if not counts:
        return "\n"

    def first_seen(nl: str) -> int:
        if nl == "\r\n":
            return text.find("\r\n")
        found = (_LONE_LF if nl == "\n" else _LONE_CR).search(text)
        return found.start() if found else len(text)

    # A tie goes to the ending the file uses first, so the answer never depends on dict order.
    return max(counts, key=lambda nl: (counts[nl], -first_seen(nl)))


class Document:
    """Text of one file with everything needed to write it back byte-for-byte.

    Immutable: `apply` returns a new document, which is what lets the line tables below be
    computed once and cached.
    """

    def __init__(self, text: str, *, bom: bool = False, newline: str | None = None) -> None:
        if not text.isascii():
            # A lone surrogate (JSON allows "\ud800") could never be written back as UTF-8;
            # refusing it here beats failing later inside to_bytes or a position conversion.
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as err:
                raise DocumentError(
                    f"text is not valid Unicode: lone surrogate at offset {err.start}"
                ) from None
        if newline is None:
            newline = _dominant_newline(text)
        elif newline not in _NEWLINES:
            raise DocumentError(f"newline must be one of {_NEWLINES!r}, not {newline!r}")
        self._text = text
        self._bom = bom
        self._newline = newline

    @property
    def text(self) -> str:
        """Decoded text without the BOM, line endings exactly as in the file."""
        return self._text

    @property
    def bom(self) -> bool:
        return self._bom

    @property
    def newline(self) -> str:
        """The dominant line ending, for text the engine inserts."""
        return self._newline

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return (self._text, self._bom, self._newline) == (other._text, other._bom, other._newline)

    def __hash__(self) -> int:
        return hash((self._text, self._bom, self._newline))

    def __repr__(self) -> str:
        return (
            f"Document({len(self._text)} chars, {self.line_count()} lines, "
            f"bom={self._bom}, newline={self._newline!r})"
        )

    # -- bytes -----------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, path: str | None = None) -> Document:
        """Decode a file's bytes: UTF-8, with or without a BOM."""
        where = f"{path}: " if path else ""
        nul = data.find(b"\x00", 0, _BINARY_SNIFF_BYTES)
        if nul >= 0:
            raise DocumentError(f"{where}binary file (NUL byte at offset {nul})")
        bom = data.startswith(_BOM)
        body = data[len(_BOM) :] if bom else data
        try:
            # Strict UTF-8 rejects overlong forms and encoded surrogates, so every text it
            # accepts encodes back to the same bytes: that is what makes to_bytes exact.
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            offset = err.start + (len(_BOM) if bom else 0)
            raise DocumentError(f"{where}not valid UTF-8 at byte {offset}") from None
        return cls(text, bom=bom)

    @classmethod
    def from_text(cls, text: str) -> Document:
        """A document from a decoded string (an editor buffer); a leading U+FEFF is the BOM."""
        if text.startswith("\ufeff"):
            return cls(text[1:], bom=True)
        return cls(text)

    def to_bytes(self) -> bytes:
        """The file's bytes: the exact inverse of `from_bytes`."""
        encoded = self._text.encode("utf-8")
        return _BOM + encoded if self._bom else encoded

    # -- lines -----------------------------------------------------------------------------

    @cached_property
    def _line_starts(self) -> tuple[int, ...]:
        return (0, *(match.end() for match in _LINE_BREAK.finditer(self._text)))

    def line_starts(self) -> list[int]:
        """Offsets (str indices) where each line starts; a line ends after "\\n", "\\r\\n" or
        a lone "\\r", so a text ending in a line break has an empty last line (as in LSP)."""
        return list(self._line_starts)

    def line_count(self) -> int:
        return len(self._line_starts)

    def _check_line(self, line: int) -> None:
        if not 0 <= line < len(self._line_starts):
            raise DocumentError(f"line {line} is outside the document ({self.line_count()} lines)")

    def _content_end(self, line: int) -> int:
        """Offset of the end of `line`, before its line ending."""
        starts = self._line_starts
        if line + 1 >= len(starts):
            return len(self._text)
        next_start = starts[line + 1]
        ending = 2 if self._text.startswith("\r\n", next_start - 2) else 1
        return next_start - ending

    def line_text(self, line: int) -> str:
        """The text of `line` without its line ending."""
        self._check_line(line)
        return self._text[self._line_starts[line] : self._content_end(line)]

    def line_indent(self, line: int) -> str:
        """Leading spaces and tabs of `line`."""
        content = self.line_text(line)
        return content[: len(content) - len(content.lstrip(" \t"))]

    @cached_property
    def _indent_unit(self) -> str:
        tab_lines = space_lines = 0
        steps: Counter[int] = Counter()
        previous: int | None = None
        for line in range(self.line_count()):
            content = self.line_text(line)
            if not content.strip():
                # Blank lines carry no indentation information (editors often strip them).
                continue
            indent = self.line_indent(line)
            if indent.startswith("\t"):
                tab_lines += 1
            elif indent:
                space_lines += 1
            # Mixed or tab indents have no width in spaces; they break the chain of
            # comparisons rather than producing a bogus step.
            width = len(indent) if indent.strip(" ") == "" else None
            if width is not None and previous is not None:
                step = width - previous
                if 0 < step <= _MAX_INDENT_STEP:
                    steps[step] += 1
            previous = width
        if tab_lines > space_lines:
            return "\t"
        if not steps:
            return _DEFAULT_INDENT
        # Ties go to the smaller step: a file indented by 2 with some 4-wide continuation
        # lines is a 2-space file.
        return " " * max(steps, key=lambda s: (steps[s], -s))

    def indent_unit(self) -> str:
        """The file's indentation step: "\\t" when lines are mostly tab-indented, else the
        most common increase in leading spaces between consecutive non-blank lines; four
        spaces when the file does not say."""
        return self._indent_unit

    # -- positions -------------------------------------------------------------------------

    def _check_offset(self, offset: int) -> None:
        if not 0 <= offset <= len(self._text):
            raise DocumentError(
                f"offset {offset} is outside the document (length {len(self._text)})"
            )

    def offset_at(self, pos: Position, encoding: Encoding | str = Encoding.UTF16) -> int:
        """The str offset of an LSP position, with LSP's clamping: a character past the end
        of its line means the line end (before the line ending), a line past the end means
        the end of the text, and a character inside a code point snaps back to its start."""
        encoding = _encoding(encoding)
        if pos.line < 0 or pos.character < 0:
            raise DocumentError(f"negative position (line {pos.line}, character {pos.character})")
        if pos.line >= len(self._line_starts):
            return len(self._text)
        start = self._line_starts[pos.line]
        content = self._text[start : self._content_end(pos.line)]
        return start + _code_points(content, pos.character, encoding)

    def position_at(self, offset: int, encoding: Encoding | str = Encoding.UTF16) -> Position:
        """The LSP position of a str offset. An offset between the "\\r" and "\\n" of a CRLF
        is reported at the line end: no editor can put a cursor there."""
        encoding = _encoding(encoding)
        self._check_offset(offset)
        line = bisect.bisect_right(self._line_starts, offset) - 1
        start = self._line_starts[line]
        offset = min(offset, self._content_end(line))
        return Position(line, _code_units(self._text[start:offset], encoding))

    @cached_property
    def _byte_line_starts(self) -> tuple[int, ...]:
        # Per-line byte starts turn each byte conversion into one bisect and one line's
        # encode, instead of re-encoding the text up to the offset every time.
        starts = self._line_starts
        result = [0]
        for line in range(len(starts) - 1):
            result.append(result[-1] + len(self._text[starts[line] : starts[line + 1]].encode()))
        return tuple(result)

    @cached_property
    def _byte_length(self) -> int:
        return self._byte_line_starts[-1] + len(self._text[self._line_starts[-1] :].encode())

    def byte_offset(self, offset: int) -> int:
        """The UTF-8 byte offset (in the text, without the BOM) of a str offset, as
        tree-sitter counts."""
        self._check_offset(offset)
        if self._text.isascii():
            return offset
        line = bisect.bisect_right(self._line_starts, offset) - 1
        start = self._line_starts[line]
        return self._byte_line_starts[line] + len(self._text[start:offset].encode())

    def offset_from_byte(self, byte_offset: int) -> int:
        """The str offset of a UTF-8 byte offset (text without the BOM); a byte offset inside
        a multi-byte sequence snaps back to the start of its code point."""
        if not 0 <= byte_offset <= self._byte_length:
            raise DocumentError(
                f"byte offset {byte_offset} is outside the document ({self._byte_length} bytes)"
            )
        if self._text.isascii():
            return byte_offset
        line = bisect.bisect_right(self._byte_line_starts, byte_offset) - 1
        start = self._line_starts[line]
        end = self._line_starts[line + 1] if line + 1 < len(self._line_starts) else len(self._text)
        within = byte_offset - self._byte_line_starts[line]
        cut = self._text[start:end].encode()[:within]
        return start + len(cut.decode("utf-8", errors="ignore"))

    # -- edits -----------------------------------------------------------------------------

    def apply(self, edits: list[TextEdit]) -> Document:
        """A new document with `edits` applied, keeping this one's BOM and newline.

        Offsets refer to this document's text. Edits must not overlap; several insertions at
        one offset land in list order, as LSP specifies.
        """
        # sorted() is stable, which is what keeps same-offset insertions in list order.
        ordered = sorted(edits, key=lambda e: (e.start, e.end))
        pieces: list[str] = []
        cursor = 0
        for previous, edit in zip([None, *ordered], ordered):
            if edit.end > len(self._text):
                raise DocumentError(
                    f"edit {edit.start}..{edit.end} is outside the document "
                    f"(length {len(self._text)})"
                )
            if previous is not None and previous.end > edit.start:
                raise DocumentError(
                    f"edits overlap: {previous.start}..{previous.end} and {edit.start}..{edit.end}"
                )
            pieces.append(self._text[cursor : edit.start])
            pieces.append(edit.new_text)
            cursor = edit.end
        pieces.append(self._text[cursor:])
        return Document("".join(pieces), bom=self._bom, newline=self._newline)


def edit_positions(doc: Document, edit: TextEdit) -> dict:
    """An edit in every coordinate system a tool may want: the JSON shape the CLI prints.

    "byte" is the offset in the file as stored, BOM included, so a tool can splice the
    file's bytes directly; line/character pairs are given in each LSP encoding.
    """
    bom_length = len(_BOM) if doc.bom else 0

    def where(offset: int) -> dict[str, int | list[int]]:
        result: dict[str, int | list[int]] = {"byte": bom_length + doc.byte_offset(offset)}
        for encoding in Encoding:
            pos = doc.position_at(offset, encoding)
            result[encoding.value] = [pos.line, pos.character]
        return result

    return {"start": where(edit.start), "end": where(edit.end), "new_text": edit.new_text}
