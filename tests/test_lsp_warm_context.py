"""A warm context: after a change and the quiet time, the server encodes the context at
the cursor in the background, so the inline completion that follows computes (nearly)
none of its context, and answers exactly what a fresh model answers."""

from __future__ import annotations

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities

from diffill.model.backends.blockdiff import CHUNK
from diffill.server.document import Document, Encoding, Position
from diffill.server.editing import engine
from diffill.server.editing.parsed import ParsedDocument
from diffill.server.editing.targets import completion_request
from diffill.server.lsp import conversions, settings

from .lsp_harness import Editor, server_command, server_env, tiny_block_infiller, tiny_infiller

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Enough code for a context of several chunks; the cursor is in the last function.
DOC = (
    "".join(
        f"def area_{i}(radius):\n    return 3.14159 * radius * radius * {i}\n\n" for i in range(12)
    )
    + "def total(values):\n    return sum(values) \n"
)
SETTINGS = {"steps": 1, "maxContextTokens": 512, "warmContextDelayMs": 20}


@pytest.fixture(scope="module", params=["tiny-block", "tiny"])
def model_name(request) -> str:
    """The block model (keeps every chunk before a change) and the shipped kind (keeps the
    very same context)."""
    return request.param


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(model_name: str):
    config = ClientServerConfig(server_command=server_command(model_name), server_env=server_env())
    lsp_client = await config.start()
    caps = client_capabilities("visual-studio-code")
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    await Editor(lsp_client).start(caps, SETTINGS)
    yield lsp_client
    await lsp_client.shutdown_session()
    await lsp_client.stop()


def fresh_completion(model_name: str, text: str, cursor: int) -> list[types.InlineCompletionItem]:
    """What a model that never saw the document answers there, in this process."""
    doc = Document(text)
    parsed = ParsedDocument.parse(doc, engine.language_of("a.py", None))
    options, _ = settings.parse_settings(SETTINGS, settings.Settings())
    model = tiny_block_infiller() if model_name == "tiny-block" else tiny_infiller()
    result = engine.edit(parsed, completion_request(parsed, cursor), model, options.edit_options())
    return conversions.inline_items(doc, result, cursor, Encoding.UTF16)


async def test_after_a_typed_character_the_completion_finds_its_context_encoded(
    editor: Editor, model_name: str
):
    uri = editor.open(DOC)
    line = DOC.count("\n") - 1
    at = len("    return sum(values) ")
    editor.type(uri, types.Range(types.Position(line, at), types.Position(line, at)), "+")
    await editor.counts()  # answered once the warm-up (debounce, then the worker) is done
    items = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, at + 1),
        )
    )
    stats = await editor.counts()
    assert stats["context_tokens"] > 3 * CHUNK
    assert stats["context_computed"] == 0  # the warm-up encoded all of it
    text = editor.texts[uri]
    cursor = Document(text).offset_at(Position(line, at + 1), Encoding.UTF16)
    assert items == fresh_completion(model_name, text, cursor)


def unseen_doc(tag: str) -> str:
    """A document whose every chunk differs from the others': no context of it is cached."""
    return (
        "".join(
            f"def volume_{tag}_{i}(side):\n    return side * side * side * {i}\n\n"
            for i in range(8)
        )
        + "def mean(values):\n    return sum(values) \n"
    )


def type_at_the_end(editor: Editor, text: str) -> tuple[str, types.Position]:
    """Open `text`, type "+" in its last line; the document and the cursor after it."""
    uri = editor.open(text)
    line, at = text.count("\n") - 1, len("    return sum(values) ")
    editor.type(uri, types.Range(types.Position(line, at), types.Position(line, at)), "+")
    return uri, types.Position(line, at + 1)


async def test_with_warm_context_off_a_pause_after_typing_never_warms(editor: Editor):
    editor.configure(warmContext=False)
    try:
        before = (await editor.counts())["warm_contexts"]
        uri, cursor = type_at_the_end(editor, unseen_doc("off"))
        await editor.counts()  # would wait for a warm-up, had the change scheduled one
        items = await editor.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Invoked
                ),
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=cursor,
            )
        )
        stats = await editor.counts()
        assert items is not None  # inline completion itself stays on
        assert stats["warm_contexts"] == before
        assert stats["context_computed"] == stats["context_tokens"]  # none of it was ready
    finally:
        editor.configure(warmContext=True)


async def test_with_inline_completion_off_nothing_is_warmed_either(editor: Editor):
    editor.configure(inlineCompletion=False)
    try:
        before = (await editor.counts())["warm_contexts"]
        type_at_the_end(editor, unseen_doc("no_completion"))
        assert (await editor.counts())["warm_contexts"] == before
    finally:
        editor.configure(inlineCompletion=True)


async def test_switching_warm_context_off_drops_the_warm_up_waiting_out_its_delay(
    editor: Editor,
):
    # The longest delay: the warm-up is still waiting when the switch goes off, and
    # `counts` (which waits for every task in flight) would wait it out were it kept.
    editor.configure(warmContextDelayMs=60_000)
    try:
        before = (await editor.counts())["warm_contexts"]
        type_at_the_end(editor, unseen_doc("switched"))
        editor.configure(warmContext=False)
        assert (await editor.counts())["warm_contexts"] == before
    finally:
        editor.configure(warmContext=True, warmContextDelayMs=SETTINGS["warmContextDelayMs"])
