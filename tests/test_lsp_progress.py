"""Work-done progress with the step count: on a token the server creates (the client
supports window/workDoneProgress/create) or on the client's own token. And the `preview`
setting, which turns diffill/preview on for a client that did not ask for it."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .lsp_harness import Editor, server_command, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOC = '# out: "total = a * b"\ndef f(a, b):\n    total = a + b\n    return total\n'
STEPS = 4  # the stand-in model reports as many steps as the `steps` setting asks for


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=server_command(), server_env=server_env()),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    """Unlike conftest's: started as VS Code with fixed steps, so the progress reports
    are known."""
    await Editor(lsp_client).start("visual-studio-code", {"steps": STEPS})
    yield
    await lsp_client.shutdown_session()


def expected_reports(title: str, end: str) -> list:
    return [
        types.WorkDoneProgressBegin(
            title=title, cancellable=True, message="starting", percentage=0
        ),
        *(
            types.WorkDoneProgressReport(
                message=f"denoising: step {i}/{STEPS}, {STEPS - i} tokens still masked",
                # 100 only at the end: checking (and repairing) the result comes after.
                percentage=min(99, 100 * i // STEPS),
                cancellable=True,
            )
            for i in range(1, STEPS + 1)
        ),
        # Every phase after denoising is reported too: the client never sits on "step 4".
        types.WorkDoneProgressReport(message="checking the result", cancellable=True),
        types.WorkDoneProgressEnd(message=end),
    ]


async def test_progress_on_a_server_created_token(editor: Editor):
    uri = editor.open(DOC)
    before = set(editor.client.progress_reports)
    result = await editor.command(
        "diffill.server.rewrite", editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    )
    assert result == {"applied": True}
    [token] = set(editor.client.progress_reports) - before
    assert editor.client.progress_reports[token] == expected_reports(
        "diffill: rewrite", f"done in {STEPS} steps"
    )


async def test_progress_on_the_clients_token(editor: Editor):
    uri = editor.open(DOC)
    editor.client.progress_reports["mine"] = []
    before = set(editor.client.progress_reports)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument, token="mine") == {
        "applied": True
    }
    assert set(editor.client.progress_reports) == before  # no token created
    assert editor.client.progress_reports["mine"] == expected_reports(
        "diffill: rewrite", f"done in {STEPS} steps"
    )


async def test_preview_only_when_asked_for(editor: Editor):
    # This client does not declare experimental.diffillPreview: the setting decides.
    uri = editor.open(DOC)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument) == {"applied": True}
    assert editor.previews == []
    editor.configure(preview=True)
    uri = editor.open(DOC)
    argument = editor.edit_argument(uri, editor.range(uri, "total = a + b"))
    assert await editor.command("diffill.server.rewrite", argument) == {"applied": True}
    assert [p["step"] for p in editor.previews] == [*range(1, STEPS + 1), STEPS, STEPS]
    assert [p["phase"] for p in editor.previews[-2:]] == ["checking the result", "done"]
    assert editor.previews[-1]["done"] and editor.previews[-1]["text"] == "total = a * b"
