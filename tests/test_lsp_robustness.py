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


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"intent": []}, "intent"),
        ({"intent": {"a": 1}}, "intent"),
        ({"intent": "fill", "version": 1.5}, "version"),
        ({"intent": "fill", "version": True}, "version"),
        ({"intent": "fill", "version": 1, "strength": "x"}, "strength"),
        ({"intent": "fill", "version": 1, "uri": 5}, "uri"),
    ],
)
async def test_code_action_data_of_the_wrong_shape(editor: Editor, data: dict, says: str):
    uri = editor.open(DOC)
    rng = editor.range(uri, "total = a + b")
    argument = {**editor.edit_argument(uri, rng), **data}
    action = {"title": "Rewrite selection", "data": argument}
    error = await error_of(editor.raw_request(types.CODE_ACTION_RESOLVE, action))
    assert error.code == INVALID_PARAMS and says in error.message


@pytest.mark.parametrize("only", [[1], [None], "quickfix", [["quickfix"]]])
async def test_a_code_action_kind_that_is_not_a_string(editor: Editor, only):
    uri = editor.open(DOC)
    params = {
        "textDocument": {"uri": uri},
        "range": editor.edit_argument(uri, editor.range(uri, "total"))["range"],
        "context": {"diagnostics": [], "only": only},
    }
    error = await error_of(editor.raw_request(types.TEXT_DOCUMENT_CODE_ACTION, params))
    assert error.code == INVALID_PARAMS and "only" in error.message


@pytest.mark.parametrize(
    "position",
    [{"line": 0, "character": 2**31}, {"line": -1, "character": 0}, {"line": 1.5, "character": 0}],
)
async def test_positions_out_of_the_protocols_range(editor: Editor, position: dict):
    uri = editor.open(DOC)
    params = {
        "textDocument": {"uri": uri},
        "range": {"start": position, "end": position},
        "context": {"diagnostics": []},
    }
    error = await error_of(editor.raw_request(types.TEXT_DOCUMENT_CODE_ACTION, params))
    assert error.code == INVALID_PARAMS


async def test_no_error_popups_for_malformed_input(editor: Editor):
    editor.raw_notify(types.TEXT_DOCUMENT_DID_CHANGE, {"textDocument": 42})
    editor.raw_notify(types.TEXT_DOCUMENT_DID_OPEN, {"textDocument": {"uri": 1}})
    await editor.round_trip()
    popups = [m.message for m in editor.client.messages if "Error in server" in m.message]
    assert popups == []
