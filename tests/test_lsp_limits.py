"""Work the server refuses up front, over real stdio: a document too large for diffill gets
a clear message and no work, and a document tree-sitter is slow on (Python comment lines
after an indented block are quadratic) stops parsing at the bound and says why. Either
way the server keeps answering at once: parsing runs off the event loop."""

from __future__ import annotations

import pytest

from .raw_lsp import RawServer, initialized_server, lsp_range, open_params, still_answers, temp_uri

SLOW_SOURCE = "def f():\n    x = 1\n" + "# a comment line\n" * 12_000  # ~200 KB, seconds to parse
HUGE_SOURCE = "def f():\n    x = 1\n" + "# a comment line\n" * 1_250_000  # 21 MB


@pytest.fixture(scope="module")
def server():
    with initialized_server() as raw:
        yield raw


def shown(server: RawServer, needle: str, after: int) -> str:
    note = server.wait_notification(
        "window/showMessage", lambda p: needle in p["message"], after=after
    )
    return note["params"]["message"]


def code_actions(server: RawServer, uri: str, rng: dict) -> list:
    return server.result(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": rng, "context": {"diagnostics": []}},
    )


def test_a_document_too_large_for_diffill_is_refused_with_its_size(server: RawServer):
    before = len(server.notifications)
    uri = temp_uri("huge.py")
    server.notify("textDocument/didOpen", open_params(uri, HUGE_SOURCE))
    still_answers(server)
    message = shown(server, "too large", before)
    assert "huge.py" in message and "21.3 MB" in message and "limit" in message
    assert code_actions(server, uri, lsp_range(0, 0, 0, 3)) == []
    result = server.result(
        "workspace/executeCommand",
        {
            "command": "diffill.server.rewrite",
            "arguments": [{"uri": uri, "range": lsp_range(1, 0, 1, 9)}],
        },
    )
    assert result["applied"] is False and "too large" in result["reason"]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_a_slow_parse_stops_at_the_bound_and_says_why(server: RawServer):
    before = len(server.notifications)
    uri = temp_uri("slow.py")
    server.notify("textDocument/didOpen", open_params(uri, SLOW_SOURCE))
    still_answers(server)
    message = shown(server, "parsing", before)
    assert "slow.py" in message and "took longer than" in message
    assert code_actions(server, uri, lsp_range(1, 0, 1, 9)) == []
    still_answers(server)
