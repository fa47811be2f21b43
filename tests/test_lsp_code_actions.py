"""Code actions: listing runs no model and offers exactly the actions that apply (with the
syntax error's diagnostic attached to its quick fix); resolving runs the model and returns
the exact edit, on the version it was listed for."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from diffill.server.editing.request import Intent
from diffill.server.lsp import conversions

from .lsp_harness import Editor

pytestmark = pytest.mark.asyncio(loop_scope="module")

FILL_DOC = '# out: "return a + b"\ndef add(a, b):\n    pass\n\n\ny = add(1, 2)\n'
BROKEN_DOC = '# out: "print(x)"\nx = 1\nprint(x\n'


def summary(actions: list[types.CodeAction]) -> list[tuple[str, str]]:
    return [(a.title, a.kind) for a in actions]


async def test_listing_offers_fill_at_a_placeholder_without_running_the_model(editor: Editor):
    uri = editor.open(FILL_DOC)
    calls = await editor.model_calls()
    cursor = editor.range(uri, "pass").start
    actions = await editor.code_actions(uri, types.Range(start=cursor, end=cursor))
    assert summary(actions) == [("Fill placeholder", "refactor.rewrite")]
    assert actions[0].edit is None and actions[0].data["intent"] == "fill"
    assert await editor.model_calls() == calls


async def test_listing_offers_rewrite_for_a_selection(editor: Editor):
    uri = editor.open(FILL_DOC)
    actions = await editor.code_actions(uri, editor.range(uri, "y = add(1, 2)"))
    assert summary(actions) == [("Rewrite selection", "refactor.rewrite")]


async def test_quick_fix_carries_the_diagnostic_it_fixes(editor: Editor):
    uri = editor.open(BROKEN_DOC)
    [diagnostic] = await editor.diagnostics(uri)
    actions = await editor.code_actions(uri, diagnostic.range, diagnostics=[diagnostic])
    fix = [a for a in actions if a.kind == "quickfix"]
    assert summary(fix) == [("Repair syntax error", "quickfix")]
    assert list(fix[0].diagnostics) == [diagnostic] and fix[0].is_preferred
    only = await editor.code_actions(uri, diagnostic.range, [diagnostic], only=["quickfix"])
    assert summary(only) == [("Repair syntax error", "quickfix")]


async def test_resolve_runs_the_model_and_returns_the_exact_edit(editor: Editor):
    uri = editor.open(FILL_DOC)
    cursor = editor.range(uri, "pass").start
    [action] = await editor.code_actions(uri, types.Range(start=cursor, end=cursor))
    calls = await editor.model_calls()
    resolved = await editor.client.code_action_resolve_async(action)
    assert await editor.model_calls() == calls + 1
    edit = resolved.edit
    expected = [
        types.TextEdit(
            range=types.Range(types.Position(2, 4), types.Position(2, 8)),
            new_text="return a + b",
        )
    ]
    if edit.document_changes:  # VS Code: versioned, on the version the action was listed for
        [change] = edit.document_changes
        assert change.text_document.version == 1
        assert list(change.edits) == expected
    else:
        assert list(edit.changes[uri]) == expected


async def test_resolve_refuses_an_action_listed_on_an_older_version(editor: Editor):
    uri = editor.open(FILL_DOC)
    [action] = await editor.code_actions(uri, editor.range(uri, "y = add(1, 2)"))
    editor.type(uri, editor.range(uri, "y"), "z")
    with pytest.raises(JsonRpcException) as caught:
        await editor.client.code_action_resolve_async(action)
    assert caught.value.code == -32801  # ContentModified


async def test_clients_that_cannot_resolve_edits_get_a_command():
    rng = types.Range(types.Position(2, 4), types.Position(2, 8))
    target = conversions.EditTarget("file:///a.py", rng, intent=Intent.FILL, version=3)
    action = conversions.code_action(target, resolvable=False)
    assert action.data is None
    assert action.command.command == "diffill.server.fill"
    assert action.command.arguments == [
        {
            "uri": "file:///a.py",
            "range": {"start": {"line": 2, "character": 4}, "end": {"line": 2, "character": 8}},
        }
    ]
