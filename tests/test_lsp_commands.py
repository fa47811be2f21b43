"""diffill.server.fill / rewrite / fix over JSON-RPC: the exact edits the server asks the editor to
apply, in the VS Code (utf-16, versioned edits) and Neovim (utf-8, plain changes) set-ups."""

from __future__ import annotations

import pytest
from lsprotocol import types

from .lsp_harness import Editor

pytestmark = pytest.mark.asyncio(loop_scope="module")


def applied_edits(editor: Editor, uri: str) -> tuple[int | None, list[types.TextEdit]]:
    """The version and edits of the last workspace/applyEdit for `uri`."""
    edit = editor.edits[-1].edit
    if edit.document_changes:
        [change] = edit.document_changes
        assert change.text_document.uri == uri
        return change.text_document.version, list(change.edits)
    return None, list(edit.changes[uri])


def edit(l1: int, c1: int, l2: int, c2: int, text: str) -> types.TextEdit:
    rng = types.Range(types.Position(l1, c1), types.Position(l2, c2))
    return types.TextEdit(range=rng, new_text=text)


async def test_fill_replaces_the_placeholder(editor: Editor):
    uri = editor.open('# out: "return a + b"\n\ndef add(a, b):\n    pass\n')
    result = await editor.command(
        "diffill.server.fill", editor.edit_argument(uri, editor.range(uri, "pass"))
    )
    assert result == {"applied": True}
    version, edits = applied_edits(editor, uri)
    assert edits == [edit(3, 4, 3, 8, "return a + b")]
    assert version in (None, 1)
    assert editor.texts[uri] == '# out: "return a + b"\n\ndef add(a, b):\n    return a + b\n'


async def test_rewrite_changes_only_what_differs(editor: Editor):
    uri = editor.open('# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n')
    rng = editor.range(uri, "total = a + b")
    result = await editor.command(
        "diffill.server.rewrite", editor.edit_argument(uri, rng, strength=0.5)
    )
    assert result == {"applied": True}
    assert applied_edits(editor, uri)[1] == [edit(2, 14, 2, 15, "*")]
    assert "total = a * b" in editor.texts[uri]


async def test_fix_repairs_the_syntax_error(editor: Editor):
    uri = editor.open('# out: "print(x)"\nx = 1\nprint(x\n')
    result = await editor.command(
        "diffill.server.fix", editor.edit_argument(uri, editor.range(uri, "print(x", 1))
    )
    assert result == {"applied": True}
    assert applied_edits(editor, uri)[1] == [edit(2, 7, 2, 7, ")")]
    assert editor.texts[uri] == '# out: "print(x)"\nx = 1\nprint(x)\n'
