"""Cancellation: `$/cancelRequest` stops denoising (the stand-in sees its event within a
step), the request answers RequestCancelled and the server goes on serving; the progress
bar's cancel button stops a command the same way."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .conftest import GATE
from .lsp_harness import Editor, denoising

pytestmark = pytest.mark.asyncio(loop_scope="module")
EDITORS = ["visual-studio-code"]  # conftest's `client`, started as VS Code only

SLOW = '# slow\n# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n'
FAST = '# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n'
REQUEST_CANCELLED = -32800


async def then_a_request_is_served(editor: Editor) -> None:
    uri = editor.open(FAST)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument) == {"applied": True}


async def test_cancel_request_stops_a_resolve_mid_denoise(editor: Editor):
    uri = editor.open(SLOW)
    [action] = await editor.code_actions(uri, editor.range(uri, "total = a + b"))
    before = await editor.counts()
    task = asyncio.ensure_future(
        editor.client.protocol.send_request_async(
            types.CODE_ACTION_RESOLVE, action, msg_id="resolve-to-cancel"
        )
    )
    await denoising(editor, task)
    editor.client.cancel_request(types.CancelParams(id="resolve-to-cancel"))
    with pytest.raises(JsonRpcException) as caught:
        await task
    assert caught.value.code == REQUEST_CANCELLED
    await then_a_request_is_served(editor)
    after = await editor.counts()
    assert after["cancelled"] == before["cancelled"] + 1  # the model itself stopped


async def test_cancel_request_stops_a_command_and_nothing_is_applied(editor: Editor):
    uri = editor.open(SLOW)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    before, applied = await editor.counts(), len(editor.edits)
    task = asyncio.ensure_future(
        editor.client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(command="diffill.server.rewrite", arguments=[argument]),
            msg_id="command-to-cancel",
        )
    )
    await denoising(editor, task)
    editor.client.cancel_request(types.CancelParams(id="command-to-cancel"))
    with pytest.raises(JsonRpcException) as caught:
        await task
    assert caught.value.code == REQUEST_CANCELLED
    await then_a_request_is_served(editor)
    assert (await editor.counts())["cancelled"] == before["cancelled"] + 1
    assert len(editor.edits) == applied + 1  # only the following request's edit
    assert editor.texts[uri] == SLOW


async def test_progress_cancel_stops_a_command(editor: Editor):
    uri = editor.open(SLOW)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    editor.client.progress_reports["bar"] = []
    task = asyncio.ensure_future(editor.command("diffill.server.rewrite", argument, token="bar"))
    await denoising(editor, task)
    editor.client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token="bar")
    )
    assert await task == {"applied": False, "reason": "cancelled"}
    assert editor.client.progress_reports["bar"][-1] == types.WorkDoneProgressEnd(
        message="cancelled"
    )
    assert not GATE.exists()
