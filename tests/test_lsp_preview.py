"""diffill/preview: the intermediate text of the span after every denoising step, then the
final text with done=true, for a client that declares experimental.diffillPreview."""

from __future__ import annotations

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from .lsp_harness import Editor, server_command, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOC = '# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n'
NEW = "total = a * b"


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command(), server_env=server_env()),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    """Unlike conftest's: started as Neovim declaring `experimental.diffillPreview`, with
    fixed steps so the previews are known."""
    # The `preview` setting, the other way to ask, is tested in test_lsp_progress.py.
    await Editor(lsp_client).start("neovim", {"steps": 3}, preview=True)
    yield
    await lsp_client.shutdown_session()


async def test_preview_streams_each_step_then_the_result(editor: Editor):
    uri = editor.open(DOC)
    rng = editor.range(uri, "total = a + b")
    editor.previews.clear()
    assert await editor.command("diffill.server.rewrite", editor.edit_argument(uri, rng)) == {
        "applied": True
    }
    where = editor.edit_argument(uri, rng)["range"]  # the statement, as the engine snapped it
    expected = [
        {
            "uri": uri,
            "range": where,
            "text": NEW[: len(NEW) * i // 3],
            "step": i,
            "steps": 3,
            "done": False,
            "phase": "denoising",
        }
        for i in (1, 2, 3)
    ]
    # Then each phase after denoising, with the last text, then the result.
    checking = {**expected[-1], "phase": "checking the result"}
    done = {"uri": uri, "range": where, "text": NEW, "step": 3, "steps": 3, "done": True}
    assert editor.previews == [*expected, checking, {**done, "phase": "done"}]


async def test_preview_of_an_edit_that_fails_restores_the_span(editor: Editor):
    # The stand-in proposes a syntax error: the edit is rejected, the preview ends on the
    # original text so a client can put it back.
    uri = editor.open('# out: "total = (a"\ndef f(a, b):\n    total = a + b\n')
    rng = editor.range(uri, "total = a + b")
    editor.previews.clear()
    result = await editor.command("diffill.server.rewrite", editor.edit_argument(uri, rng))
    assert result["applied"] is False and "syntax error" in result["reason"]
    assert editor.previews[-1]["done"] is True
    assert editor.previews[-1]["text"] == "total = a + b"
