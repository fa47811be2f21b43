"""Positions in the negotiated encoding (utf-8 for Neovim, which offers it; utf-16 for VS
Code): edits land on the right character after emoji, CJK text and a U+2028 (no line break
in LSP, one in Python's splitlines), incremental changes are applied in the same units, and
CRLF files keep their line endings."""

from __future__ import annotations

import pytest
from lsprotocol import types

from .lsp_harness import Editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

OUT = '# out: "total = a * b"\n'


def last_edits(editor: Editor) -> list[types.TextEdit]:
    edit = editor.edits[-1].edit
    if edit.document_changes:
        return list(edit.document_changes[0].edits)
    [edits] = edit.changes.values()
    return list(edits)


def star_at(line: int, column: int) -> list[types.TextEdit]:
    rng = types.Range(start=types.Position(line, column), end=types.Position(line, column + 1))
    return [types.TextEdit(range=rng, new_text="*")]


async def rewrite(editor: Editor, uri: str) -> None:
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument) == {"applied": True}


async def test_the_encoding_is_negotiated(editor: Editor):
    general = editor.client.capabilities.general
    offered = general.position_encodings if general else None
    assert editor.encoding == ("utf-8" if offered and "utf-8" in offered else "utf-16")


async def test_edit_after_emoji_and_cjk(editor: Editor):
    uri = editor.open(OUT + 'def f(a, b):\n    label = "😀 café 中文"; total = a + b\n')
    await rewrite(editor, uri)
    column = {"utf-16": 36, "utf-8": 43}[editor.encoding]
    assert last_edits(editor) == star_at(2, column)
    assert editor.texts[uri].endswith('"😀 café 中文"; total = a * b\n')


async def test_incremental_change_after_emoji(editor: Editor):
    uri = editor.open(OUT + 'def f(a, b):\n    label = "😀 café 中文"; total = a + b\n')
    after_smiley = editor.range(uri, "😀").end
    editor.type(uri, types.Range(start=after_smiley, end=after_smiley), "🎉")
    await rewrite(editor, uri)
    column = {"utf-16": 38, "utf-8": 47}[editor.encoding]
    assert last_edits(editor) == star_at(2, column)
    assert editor.texts[uri].endswith('"😀🎉 café 中文"; total = a * b\n')


async def test_a_line_separator_inside_a_string_is_no_line_break(editor: Editor):
    uri = editor.open(OUT + 'def f(a, b):\n    label = "a\u2028b"; total = a + b\n')
    await rewrite(editor, uri)
    column = {"utf-16": 29, "utf-8": 31}[editor.encoding]
    assert last_edits(editor) == star_at(2, column)


async def test_crlf_file_keeps_its_line_endings(editor: Editor):
    uri = editor.open('# out: "x = 1\\n    return x"\r\ndef f():\r\n    pass\r\n')
    argument = editor.edit_argument(uri, editor.range(uri, "pass"))
    assert await editor.command("diffill.server.fill", argument) == {"applied": True}
    rng = types.Range(start=types.Position(2, 4), end=types.Position(2, 8))
    assert last_edits(editor) == [types.TextEdit(range=rng, new_text="x = 1\r\n    return x")]
    assert editor.texts[uri].endswith("def f():\r\n    x = 1\r\n    return x\r\n")
