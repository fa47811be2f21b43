"""Bad input gets a JSON-RPC error (or a refusal that says why) and the server stays up:
malformed params, bad command arguments, unknown documents and commands, languages with
no grammar, and a stray print, which must not corrupt the protocol stream."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .lsp_harness import Editor

pytestmark = pytest.mark.asyncio(loop_scope="module")
EDITORS = ["visual-studio-code"]  # conftest's `client`, started as VS Code only

INVALID_PARAMS = -32602
DOC = '# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n'


async def error_of(awaitable) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await awaitable
    return caught.value


async def test_malformed_params_get_invalid_params_and_the_server_stays_up(editor: Editor):
    uri = editor.open(DOC)
    missing_range = {"textDocument": {"uri": uri}, "context": {"diagnostics": []}}
    error = await error_of(editor.raw_request(types.TEXT_DOCUMENT_CODE_ACTION, missing_range))
    assert error.code == INVALID_PARAMS and "textDocument/codeAction" in error.message
    assert "range" in error.message
    editor.raw_notify(types.TEXT_DOCUMENT_DID_CHANGE, {"textDocument": 42})
    actions = await editor.code_actions(uri, editor.range(uri, "total = a + b"))
    assert [a.title for a in actions] == ["Rewrite selection"]


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ({"range": {}}, "uri"),
        ({"uri": "file:///x.py", "range": [1, 2]}, "range"),
        ({"uri": "file:///x.py", "range": {"start": {"line": 0}, "end": {}}}, "line and character"),
        (
            {
                "uri": "file:///x.py",
                "range": {
                    "start": {"line": -1, "character": 0},
                    "end": {"line": 0, "character": 0},
                },
            },
            "negative",
        ),
        ("not an object", "object"),
    ],
)
async def test_bad_command_arguments(editor: Editor, argument, says):
    error = await error_of(editor.command("diffill.server.rewrite", argument))
    assert error.code == INVALID_PARAMS and says in error.message


async def test_bad_strength_and_argument_count(editor: Editor):
    uri = editor.open(DOC)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"), strength=2)
    error = await error_of(editor.command("diffill.server.rewrite", argument))
    assert error.code == INVALID_PARAMS and "strength" in error.message
    two = types.ExecuteCommandParams(command="diffill.server.fix", arguments=[argument, argument])
    error = await error_of(editor.client.workspace_execute_command_async(two))
    assert error.code == INVALID_PARAMS and "one argument" in error.message


async def test_backwards_range(editor: Editor):
    uri = editor.open(DOC)
    rng = editor.range(uri, "total = a + b")
    backwards = types.Range(start=rng.end, end=rng.start)
    error = await error_of(
        editor.command("diffill.server.rewrite", editor.edit_argument(uri, backwards))
    )
    assert error.code == INVALID_PARAMS and "before it starts" in error.message


async def test_unknown_document(editor: Editor):
    rng = types.Range(start=types.Position(0, 0), end=types.Position(0, 1))
    argument = editor.edit_argument("file:///never/opened.py", rng)
    error = await error_of(editor.command("diffill.server.fill", argument))
    assert error.code == INVALID_PARAMS and "unknown document" in error.message
    error = await error_of(editor.code_actions("file:///never/opened.py", rng))
    assert "unknown document" in error.message


async def test_unknown_command(editor: Editor):
    error = await error_of(editor.command("diffill.nonsense", {}))
    assert error.code == INVALID_PARAMS


async def test_code_action_data_that_is_not_ours(editor: Editor):
    action = types.CodeAction(title="x", data={"what": "ever"})
    error = await error_of(editor.client.code_action_resolve_async(action))
    assert error.code == INVALID_PARAMS


async def test_a_language_without_a_grammar_is_refused_with_the_reason(editor: Editor):
    uri = editor.open("hello\n", name="notes.txt", language="plaintext")
    rng = editor.range(uri, "hello")
    result = await editor.command("diffill.server.rewrite", editor.edit_argument(uri, rng))
    assert result["applied"] is False and "unsupported language" in result["reason"]
    assert await editor.code_actions(uri, rng) == []


async def test_a_stray_print_does_not_corrupt_the_protocol(editor: Editor):
    uri = editor.open("# print\n" + DOC)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument) == {"applied": True}
    assert (await editor.counts())["calls"] >= 1
