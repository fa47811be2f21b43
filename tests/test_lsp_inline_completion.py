"""textDocument/inlineCompletion (LSP 3.18): completion at the cursor, a fill with a range
when the cursor is on a placeholder, and a newer request for the same document cancelling
the older one."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .lsp_harness import Editor, denoising, gate_path, open_gate, server_command, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

GATE = gate_path("inline")


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command(), server_env=server_env(GATE)),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    """Unlike conftest's: started as Neovim with the inline completion capability added
    (pytest-lsp's Neovim does not declare it), and with this module's own gate."""
    caps = client_capabilities("neovim")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await Editor(lsp_client).start(caps)
    yield
    await lsp_client.shutdown_session()


def complete(
    editor: Editor, uri: str, line: int, character: int, token: str | None = None
) -> asyncio.Future:
    if token is not None:
        editor.client.progress_reports[token] = []
    params = types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        work_done_token=token,
    )
    return asyncio.ensure_future(editor.client.text_document_inline_completion_async(params))


async def test_completion_is_inserted_at_the_cursor(editor: Editor):
    uri = editor.open('# out: "a + b"\ndef add(a, b):\n    return \n')
    items = await complete(editor, uri, 2, 11)
    assert items == [types.InlineCompletionItem(insert_text="a + b")]


async def test_on_a_placeholder_the_item_replaces_it(editor: Editor):
    uri = editor.open('# out: "return a + b"\ndef add(a, b):\n    pass\n')
    items = await complete(editor, uri, 2, 6)
    rng = types.Range(start=types.Position(2, 4), end=types.Position(2, 8))
    assert items == [types.InlineCompletionItem(insert_text="return a + b", range=rng)]


async def test_an_unfinished_line_gets_the_rest_of_that_line_only(editor: Editor):
    # Ghost text is one line: the model's next lines are not shown (nor kept).
    uri = editor.open('# out: "a + b\\n    return total"\ndef add(a, b):\n    total =\n')
    items = await complete(editor, uri, 2, 11)
    assert items == [types.InlineCompletionItem(insert_text="a + b")]


async def test_on_a_complete_line_the_completion_may_span_lines(editor: Editor):
    # The cursor on a blank line after a finished one: what follows may be a whole block.
    uri = editor.open('# out: "total = a + b\\n    return total"\ndef add(a, b):\n    \n')
    items = await complete(editor, uri, 2, 4)
    assert items == [types.InlineCompletionItem(insert_text="total = a + b\n    return total")]


async def test_a_newer_request_cancels_the_older_one(editor: Editor):
    uri = editor.open('# slow\n# out: "a * b"\ndef f(a, b):\n    return \n')
    before = await editor.counts()
    older = complete(editor, uri, 3, 11, token="older")
    await denoising(editor, older)
    newer = complete(editor, uri, 3, 11, token="newer")
    assert await older == []
    open_gate(GATE)
    assert await newer == [types.InlineCompletionItem(insert_text="a * b")]
    assert (await editor.counts())["cancelled"] == before["cancelled"] + 1


async def test_the_setting_turns_it_off(editor: Editor):
    uri = editor.open('# out: "a + b"\ndef add(a, b):\n    return \n')
    off = {"diffill": {"inlineCompletion": False}}
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(off))
    assert await complete(editor, uri, 2, 11) is None
    on = {"diffill": {"inlineCompletion": True}}
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(on))
    assert await complete(editor, uri, 2, 11) == [types.InlineCompletionItem(insert_text="a + b")]
