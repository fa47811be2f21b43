"""The server driving a real (tiny, random) network: what it applies is exactly what the
engine computes in-process with the same model and settings, and diffill/status names the
model and says when it is busy."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from diffill.server.document import Document, Encoding, Position
from diffill.server.editing import engine
from diffill.server.editing.parsed import ParsedDocument
from diffill.server.editing.request import EditRequest, EditResult, Intent
from diffill.server.lsp import conversions, settings

from .lsp_harness import Editor, server_command, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOC = "def area(r):\n    pi = 3.14159\n    return pi * r * r\n"
# Few steps keep a CPU shared with other work fast; the comparison holds for any setting.
SETTINGS = {"steps": 1, "maxContextTokens": 128}


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command("tiny"), server_env=server_env()),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    """Unlike conftest's: the tiny random network (not the scripted stand-in), with few
    steps."""
    await Editor(lsp_client).start("visual-studio-code", SETTINGS)
    yield
    await lsp_client.shutdown_session()


def in_process(infiller, request: EditRequest) -> EditResult:
    doc = Document(DOC)
    lang = engine.language_of("a.py", None)
    parsed, _ = settings.parse_settings(SETTINGS, settings.Settings())
    return engine.edit(ParsedDocument.parse(doc, lang), request, infiller, parsed.edit_options())


async def test_a_rewrite_through_the_server_equals_the_engine(editor: Editor, infiller):
    uri = editor.open(DOC)
    rng = editor.range(uri, "pi = 3.14159")
    result = await editor.command("diffill.server.rewrite", editor.edit_argument(uri, rng))
    start = DOC.index("pi = 3.14159")
    expected = in_process(infiller, EditRequest(Intent.REWRITE, start, start + 12))
    if expected.changed:
        assert result == {"applied": True}
        assert editor.texts[uri] == Document(DOC).apply(expected.edits).text
    else:
        assert result == {"applied": False, "reason": expected.reason}
        assert editor.texts[uri] == DOC


async def test_an_inline_completion_equals_the_engine(editor: Editor, infiller):
    uri = editor.open(DOC)
    at = types.Position(line=2, character=len("    return pi * r * r"))
    items = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=at,
        )
    )
    cursor = Document(DOC).offset_at(Position(at.line, at.character), Encoding.UTF16)
    expected = in_process(infiller, EditRequest(Intent.COMPLETE, cursor, cursor))
    assert items == conversions.inline_items(Document(DOC), expected, cursor, Encoding.UTF16)


async def test_status_names_the_model_and_reports_busy(editor: Editor):
    assert editor.statuses[0] == {"model": "tiny-random", "device": "cpu", "busy": False}
    assert {"model": "tiny-random", "device": "cpu", "busy": True} in editor.statuses
    while editor.statuses[-1]["busy"]:  # the idle notice follows the last result
        await editor.round_trip()
