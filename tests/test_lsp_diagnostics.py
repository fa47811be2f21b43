"""Syntax-error diagnostics from tree-sitter: published on open and after changes once the
debounce delay has passed, cleared when fixed, switchable off."""

from __future__ import annotations

import pytest
from lsprotocol import types

from .lsp_harness import Editor

pytestmark = pytest.mark.asyncio(loop_scope="module")
EDITORS = ["visual-studio-code"]  # conftest's `client`, started as VS Code only

BROKEN = "x = 1\nprint(x\n"
SYNTAX_ERROR = types.Diagnostic(
    range=types.Range(start=types.Position(1, 0), end=types.Position(1, 7)),
    message="syntax error",
    severity=types.DiagnosticSeverity.Error,
    code="syntax-error",
    source="diffill",
)


async def test_published_on_open_and_cleared_when_fixed(editor: Editor):
    uri = editor.open(BROKEN)
    assert await editor.diagnostics(uri) == [SYNTAX_ERROR]
    editor.type(uri, editor.range(uri, "print(x"), "print(x)")
    assert await editor.diagnostics(uri) == []
    clean = editor.open("x = 1\n")
    assert await editor.diagnostics(clean) is None  # nothing to say, nothing sent


async def test_changes_are_debounced(editor: Editor):
    editor.configure(diagnosticsDelayMs=60_000)
    uri = editor.open("x = 1\n")
    editor.type(uri, editor.range(uri, "1"), "(1")
    editor.type(uri, editor.range(uri, "(1"), "(1 +")
    assert await editor.diagnostics(uri) is None  # still waiting for a quiet minute
    editor.configure(diagnosticsDelayMs=0)  # a new delay re-checks every document now
    [diagnostic] = await editor.diagnostics(uri)
    assert diagnostic.range.end == types.Position(0, 8)  # "x = (1 +": both changes in


async def test_switched_off_and_on(editor: Editor):
    uri = editor.open(BROKEN)
    assert await editor.diagnostics(uri) == [SYNTAX_ERROR]
    editor.configure(diagnostics=False)
    assert await editor.diagnostics(uri) == []
    other = editor.open(BROKEN)
    assert await editor.diagnostics(other) is None
    editor.configure(diagnostics=True)
    assert await editor.diagnostics(uri) == [SYNTAX_ERROR]
    assert await editor.diagnostics(other) == [SYNTAX_ERROR]


async def test_none_for_a_language_without_a_grammar(editor: Editor):
    uri = editor.open("print(x\n", name="notes.txt", language="plaintext")
    assert await editor.diagnostics(uri) is None
