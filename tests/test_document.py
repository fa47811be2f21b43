"""Document: byte-exact round trips, position conversions in every LSP encoding, edits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffill.server.document import (
    Document,
    DocumentError,
    Encoding,
    Position,
    TextEdit,
    edit_positions,
)
from diffill.server.editing.minimal_edits import minimal_edits

# Text rich in the things that break position code: every kind of line ending, tabs,
# astral characters (surrogate pairs in UTF-16, 4 bytes in UTF-8) and CJK (3 bytes).
_TRICKY = st.lists(
    st.one_of(
        st.sampled_from(["\n", "\r\n", "\r", "\t", " ", "a", "é", "中", "😀", "\ufeff"]),
        # Documents are valid Unicode: lone surrogates are refused (tested separately).
        st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
    ),
    max_size=40,
).map("".join)


# -- bytes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a\r\nb\r\n",
        b"a\rb\rc",
        b"a\nb\r\nc\rd\n",
        b"\xef\xbb\xbfx = 1\n",
        b"\xef\xbb\xbf",
        b"\tif x:\n\t\treturn 1\n",
        "emoji 😀 and 中文\n".encode(),
        b"no final newline",
        b"\n\n\r\n",
    ],
)
def test_byte_round_trip(data: bytes) -> None:
    assert Document.from_bytes(data).to_bytes() == data


@settings(max_examples=150, deadline=None)
@given(text=_TRICKY, bom=st.booleans())
def test_byte_round_trip_property(text: str, bom: bool) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    assert Document.from_bytes(data).to_bytes() == data


def test_from_bytes_keeps_text_and_detects_bom_and_newline() -> None:
    doc = Document.from_bytes(b"\xef\xbb\xbfa\r\nb\r\nc\n")
    assert doc.bom is True
    assert doc.text == "a\r\nb\r\nc\n"
    assert doc.newline == "\r\n"
    assert Document.from_bytes(b"a\rb\r").newline == "\r"
    assert Document.from_bytes(b"one line").newline == "\n"
    assert Document.from_bytes(b"").newline == "\n"


def test_from_text_strips_bom() -> None:
    doc = Document.from_text("\ufeffx\n")
    assert doc.bom and doc.text == "x\n"
    assert doc.to_bytes() == b"\xef\xbb\xbfx\n"
    assert Document.from_text("x").bom is False


def test_binary_file_reports_nul_offset() -> None:
    with pytest.raises(DocumentError, match=r"^img\.png: binary file \(NUL byte at offset 3\)$"):
        Document.from_bytes(b"\x89PN\x00G", path="img.png")


def test_nul_after_sniff_window_is_text() -> None:
    data = b"a" * 8000 + b"\x00"
    assert Document.from_bytes(data).to_bytes() == data


def test_invalid_utf8_reports_byte_offset() -> None:
    with pytest.raises(DocumentError, match=r"^latin\.py: not valid UTF-8 at byte 4$"):
        Document.from_bytes(b"x = \xe9\n", path="latin.py")
    # The offset is into the file, so it counts the BOM.
    with pytest.raises(DocumentError, match=r"not valid UTF-8 at byte 5$"):
        Document.from_bytes(b"\xef\xbb\xbfab\xff")
    # Encoded surrogates cannot round-trip, so they are refused too.
    with pytest.raises(DocumentError, match="at byte 0"):
        Document.from_bytes(b"\xed\xa0\x80")


def test_lone_surrogate_text_is_refused() -> None:
    with pytest.raises(DocumentError, match="lone surrogate at offset 1"):
        Document.from_text("a\ud800b")


# -- lines ---------------------------------------------------------------------------------


def test_line_starts_for_every_line_ending() -> None:
    doc = Document("a\nb\r\nc\rd")
    assert doc.line_starts() == [0, 2, 5, 7]
    assert doc.line_count() == 4
    assert [doc.line_text(i) for i in range(4)] == ["a", "b", "c", "d"]


def test_trailing_newline_makes_an_empty_last_line() -> None:
    doc = Document("x\r\n")
    assert doc.line_count() == 2
    assert doc.line_text(1) == ""
    assert Document("").line_count() == 1


def test_only_lsp_line_endings_break_lines() -> None:
    # str.splitlines would break on these; editors do not.
    doc = Document("a\u2028b\x0cc\x85d")
    assert doc.line_count() == 1


def test_line_text_out_of_range() -> None:
    with pytest.raises(DocumentError, match="line 2 is outside"):
        Document("a\n").line_text(2)


# -- positions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "character"),
    [(Encoding.UTF16, 3), (Encoding.UTF8, 5), (Encoding.UTF32, 2)],
)
def test_position_of_character_after_emoji(encoding: Encoding, character: int) -> None:
    doc = Document("a😀b")
    assert doc.position_at(2, encoding) == Position(0, character)
    assert doc.offset_at(Position(0, character), encoding) == 2


@pytest.mark.parametrize(
    ("encoding", "character"),
    [(Encoding.UTF16, 3), (Encoding.UTF8, 7), (Encoding.UTF32, 3)],
)
def test_position_after_cjk(encoding: Encoding, character: int) -> None:
    doc = Document("x\n中文!\n")
    offset = doc.text.index("!")
    assert doc.position_at(offset, encoding) == Position(1, character - 1)
    assert doc.offset_at(Position(1, character - 1), encoding) == offset
    assert doc.position_at(offset + 1, encoding) == Position(1, character)


def test_encoding_accepts_plain_strings() -> None:
    assert Document("a😀b").offset_at(Position(0, 5), "utf-8") == 2
    with pytest.raises(DocumentError, match="unknown position encoding"):
        Document("a").offset_at(Position(0, 0), "latin-1")


def test_position_inside_surrogate_pair_snaps_back() -> None:
    doc = Document("a😀b")
    assert doc.offset_at(Position(0, 2), Encoding.UTF16) == 1


@pytest.mark.parametrize("character", [2, 3, 4])
def test_position_inside_utf8_sequence_snaps_back(character: int) -> None:
    assert Document("a😀b").offset_at(Position(0, character), Encoding.UTF8) == 1


def test_character_past_line_end_clamps_before_line_ending() -> None:
    doc = Document("ab\r\ncd")
    for encoding in Encoding:
        assert doc.offset_at(Position(0, 99), encoding) == 2


def test_line_past_end_clamps_to_end_of_text() -> None:
    doc = Document("ab\ncd")
    assert doc.offset_at(Position(7, 0)) == 5
    assert doc.offset_at(Position(2, 3)) == 5


def test_negative_position_is_an_error() -> None:
    with pytest.raises(DocumentError, match="negative position"):
        Document("a").offset_at(Position(0, -1))
    with pytest.raises(DocumentError, match="negative position"):
        Document("a").offset_at(Position(-1, 0))


def test_crlf_line_end_position_is_before_cr() -> None:
    doc = Document("ab\r\ncd\r\n")
    assert doc.position_at(2) == Position(0, 2)
    # Between "\r" and "\n" is no place for a cursor: it reports the line end.
    assert doc.position_at(3) == Position(0, 2)
    assert doc.position_at(4) == Position(1, 0)
    assert doc.offset_at(Position(0, 2)) == 2
    assert doc.position_at(len(doc.text)) == Position(2, 0)


def test_position_at_out_of_range() -> None:
    with pytest.raises(DocumentError, match="offset 4 is outside"):
        Document("abc").position_at(4)


@settings(max_examples=100, deadline=None)
@given(text=_TRICKY, data=st.data())
def test_position_offset_round_trip(text: str, data: st.DataObject) -> None:
    doc = Document(text)
    offset = data.draw(st.integers(0, len(text)))
    # Offsets inside a CRLF are reported at the line end, so they come back one earlier.
    expected = offset - 1 if text[offset - 1 : offset + 1] == "\r\n" else offset
    for encoding in Encoding:
        assert doc.offset_at(doc.position_at(offset, encoding), encoding) == expected


# -- bytes offsets -------------------------------------------------------------------------


def test_byte_offset_and_back() -> None:
    doc = Document.from_text("\ufeffa😀\n中b")
    # Offsets count the text without the BOM.
    assert [doc.byte_offset(i) for i in range(len(doc.text) + 1)] == [0, 1, 5, 6, 9, 10]
    for i in range(len(doc.text) + 1):
        assert doc.offset_from_byte(doc.byte_offset(i)) == i


def test_byte_offset_inside_code_point_snaps_back() -> None:
    doc = Document("a😀\n中b")
    assert [doc.offset_from_byte(b) for b in range(2, 5)] == [1, 1, 1]
    assert [doc.offset_from_byte(b) for b in (7, 8)] == [3, 3]


def test_byte_offsets_out_of_range() -> None:
    doc = Document("é")
    with pytest.raises(DocumentError, match="byte offset 3 is outside"):
        doc.offset_from_byte(3)
    with pytest.raises(DocumentError, match="offset 2 is outside"):
        doc.byte_offset(2)


@settings(max_examples=100, deadline=None)
@given(text=_TRICKY, data=st.data())
def test_byte_offset_matches_encoding(text: str, data: st.DataObject) -> None:
    doc = Document(text)
    offset = data.draw(st.integers(0, len(text)))
    assert doc.byte_offset(offset) == len(text[:offset].encode())
    assert doc.offset_from_byte(doc.byte_offset(offset)) == offset


# -- apply ---------------------------------------------------------------------------------


def test_apply_keeps_bom_and_newline() -> None:
    doc = Document.from_bytes(b"\xef\xbb\xbfa = 1\r\nb = 2\r\n")
    new = doc.apply([TextEdit(4, 5, "10"), TextEdit(11, 12, "20")])
    assert new.text == "a = 10\r\nb = 20\r\n"
    assert new.bom and new.newline == "\r\n"
    assert doc.text == "a = 1\r\nb = 2\r\n"  # the original is untouched


def test_apply_in_any_order_and_inserts_in_list_order() -> None:
    doc = Document("abc")
    assert doc.apply([TextEdit(2, 3, "Z"), TextEdit(0, 1, "X")]).text == "XbZ"
    assert doc.apply([TextEdit(1, 1, "1"), TextEdit(1, 1, "2")]).text == "a12bc"
    assert doc.apply([TextEdit(1, 2, "B"), TextEdit(1, 1, "^")]).text == "a^Bc"


@pytest.mark.parametrize(
    "edits",
    [
        [TextEdit(0, 2, "x"), TextEdit(1, 3, "y")],
        [TextEdit(0, 3, "x"), TextEdit(1, 1, "y")],
        [TextEdit(1, 2, "x"), TextEdit(1, 2, "y")],
    ],
)
def test_apply_overlapping_edits_raises(edits: list[TextEdit]) -> None:
    with pytest.raises(DocumentError, match="edits overlap"):
        Document("abcd").apply(edits)


def test_apply_edit_outside_document_raises() -> None:
    with pytest.raises(DocumentError, match="outside the document"):
        Document("ab").apply([TextEdit(1, 3, "")])


def test_invalid_edit_range_raises() -> None:
    with pytest.raises(DocumentError, match="invalid edit range"):
        TextEdit(3, 1, "")


# -- indentation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("def f():\n    if x:\n        return 1\n\n    return 2\n", "    "),
        ("function f() {\n  if (x) {\n    return 1;\n  }\n}\n", "  "),
        ("func f() {\n\tif x {\n\t\treturn 1\n\t}\n}\n", "\t"),
        ("x = 1\ny = 2\n", "    "),
        ("", "    "),
        # Hanging alignment far to the right is not the indentation step.
        ("call(a,\n                  b)\nif x:\n  y\nif z:\n  w\n", "  "),
    ],
)
def test_indent_unit(text: str, unit: str) -> None:
    assert Document(text).indent_unit() == unit


def test_line_indent() -> None:
    doc = Document("  \t x = 1\r\n\tpass\nend")
    assert doc.line_indent(0) == "  \t "
    assert doc.line_indent(1) == "\t"
    assert doc.line_indent(2) == ""


# -- minimal edits -------------------------------------------------------------------------


def _applied(old: str, edits: list[TextEdit], base: int = 0) -> str:
    shifted = [TextEdit(e.start - base, e.end - base, e.new_text) for e in edits]
    return Document(old).apply(shifted).text


@settings(max_examples=200, deadline=None)
@given(old=_TRICKY, new=_TRICKY, base=st.integers(0, 50))
def test_minimal_edits_reproduce_new(old: str, new: str, base: int) -> None:
    edits = minimal_edits(old, new, base)
    assert _applied(old, edits, base) == new
    # Sorted and non-overlapping, so any client can apply them as one batch.
    assert all(a.end <= b.start for a, b in zip(edits, edits[1:]))
    assert all(base <= e.start <= e.end <= base + len(old) for e in edits)


_LINES = st.lists(st.sampled_from(["a\n", "b\n", "    c\n", "dd\r\n", "\n", "x = 1\n"]))


@settings(max_examples=100, deadline=None)
@given(old=_LINES, new=_LINES)
def test_minimal_edits_reproduce_new_on_line_lists(old: list[str], new: list[str]) -> None:
    assert _applied("".join(old), minimal_edits("".join(old), "".join(new))) == "".join(new)


def test_minimal_edits_equal_text_is_empty() -> None:
    assert minimal_edits("same\n", "same\n", 10) == []


_TEN_LINES = "".join(f"line_{i} = compute({i})\n" for i in range(10))


def test_one_word_change_is_one_small_edit() -> None:
    new = _TEN_LINES.replace("compute(4)", "evaluate(4)")
    edits = minimal_edits(_TEN_LINES, new, base=100)
    assert len(edits) == 1
    edit = edits[0]
    assert len(edit.new_text) <= len("evaluate")
    assert edit.end - edit.start <= len("compute")
    line_4 = 100 + _TEN_LINES.index("line_4")
    assert line_4 <= edit.start and edit.end <= line_4 + len("line_4 = compute(4)")


def test_unchanged_lines_between_changes_are_not_touched() -> None:
    lines = _TEN_LINES.splitlines(keepends=True)
    lines[1] = "line_1 = other(1)\n"
    lines[8] = "line_8 = compute(8, fast=True)\n"
    new = "".join(lines)
    edits = minimal_edits(_TEN_LINES, new)
    assert len(edits) == 2
    untouched_start = _TEN_LINES.index("line_2")
    untouched_end = _TEN_LINES.index("line_8")
    for edit in edits:
        assert edit.end <= untouched_start or edit.start >= untouched_end
    assert _applied(_TEN_LINES, edits) == new


def test_inserted_and_deleted_lines_keep_the_rest() -> None:
    old = "a\nb\nc\nd\n"
    new = "a\nb\nNEW\nc\nd\n"
    assert minimal_edits(old, new) == [TextEdit(4, 4, "NEW\n")]
    assert minimal_edits(new, old) == [TextEdit(4, 8, "")]


def test_insertion_at_end() -> None:
    assert minimal_edits("x = 1\n", "x = 1\ny = 2\n", base=7) == [TextEdit(13, 13, "y = 2\n")]
    assert minimal_edits("", "abc") == [TextEdit(0, 0, "abc")]


# -- edit positions ------------------------------------------------------------------------


def test_edit_positions_shape() -> None:
    doc = Document.from_text("\ufeffa😀\nb中c\n")
    edit = TextEdit(doc.text.index("中"), doc.text.index("c"), "z")
    assert edit_positions(doc, edit) == {
        # "byte" counts the file as stored, BOM included.
        "start": {"byte": 3 + 7, "utf-8": [1, 1], "utf-16": [1, 1], "utf-32": [1, 1]},
        "end": {"byte": 3 + 10, "utf-8": [1, 4], "utf-16": [1, 2], "utf-32": [1, 2]},
        "new_text": "z",
    }


def test_edit_positions_on_first_line_after_emoji() -> None:
    doc = Document("a😀b")
    positions = edit_positions(doc, TextEdit(2, 3, ""))
    assert positions["start"] == {"byte": 5, "utf-8": [0, 5], "utf-16": [0, 3], "utf-32": [0, 2]}
    assert positions["end"]["byte"] == 6
