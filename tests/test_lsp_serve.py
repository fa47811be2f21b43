"""`diffill serve`: the command line builds the server with the model loader. A model
folder that does not load is reported to the editor and the server stays up; a new
`model` setting loads another; the log goes to the client and to --log-file."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from diffill.model import checkpoint
from diffill.server.cli import main

from .conftest import tiny_model
from .lsp_harness import Editor, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

LOG = Path(tempfile.gettempdir()) / f"diffill-serve-{os.getpid()}.log"
MISSING = "/nonexistent/diffill-model"
COMMAND = [sys.executable, "-m", "diffill.server.cli", "serve", "--model", MISSING]


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[*COMMAND, "--log-file", str(LOG)], server_env=server_env()
    ),
    scope="module",
)
async def client(lsp_client: LanguageClient):
    """Unlike conftest's: the real `diffill serve` (the CLI, loading the model itself)
    with a model folder that does not load and a log file."""
    await Editor(lsp_client).start("visual-studio-code", {"steps": 1})
    yield
    await lsp_client.shutdown_session()
    LOG.unlink(missing_ok=True)


async def statuses_until(editor: Editor, done) -> dict:
    while not any(done(s) for s in editor.statuses):
        await editor.round_trip()
    return next(s for s in editor.statuses if done(s))


async def test_a_model_that_does_not_load_is_reported(editor: Editor):
    status = await statuses_until(editor, lambda s: "error" in s)
    assert status["model"] is None and MISSING in status["error"]
    errors = [m.message for m in editor.client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and errors[0].startswith("diffill: cannot load the model")
    uri = editor.open("x = 1\n")
    result = await editor.command(
        "diffill.server.rewrite", editor.edit_argument(uri, editor.range(uri, "x = 1"))
    )
    assert result["applied"] is False and "cannot load the model" in result["reason"]


async def test_a_model_setting_loads_that_model(editor: Editor, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "tiny"
    checkpoint.save(folder, tiny_model(tokenizer.vocab_size, span_positions=48), tokenizer)
    editor.configure(model=str(folder))
    status = await statuses_until(editor, lambda s: s["model"] == str(folder) and not s["busy"])
    assert status == {"model": str(folder), "device": "cpu", "busy": False}
    uri = editor.open("x = 1\n")
    result = await editor.command(
        "diffill.server.rewrite", editor.edit_argument(uri, editor.range(uri, "x = 1"))
    )
    assert "cannot load" not in result.get("reason", "")
    log = LOG.read_text()
    assert "cannot load the model" in log and f"model {folder} loaded" in log
    assert any(f"model {folder} loaded" in m.message for m in editor.client.log_messages)


async def test_tcp_needs_host_and_port(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--tcp", "8080"])
    assert exit_info.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
