"""The server's copy of a document stays the editor's, over real stdio: changes land where
LSP says (lines end only at \\n, \\r\\n and \\r; a character past the line end means the line
end), the parse follows the last change *received*, and a change the server cannot apply
makes it say so and stop trusting the document until the editor sends the whole text."""

from __future__ import annotations

import pytest

from .lsp_harness import index_of
from .raw_lsp import (
    RawServer,
    change_params,
    expected_listing,
    initialized_server,
    listing,
    lsp_range,
    open_params,
    temp_uri,
)

REQUEST_FAILED = -32803


@pytest.fixture(scope="module")
def server():
    # The default 300 ms diagnostics delay: changes arrive faster than the server re-parses.
    with initialized_server(options={"diagnosticsDelayMs": 300}) as raw:
        yield raw


def server_view(server: RawServer, uri: str) -> dict:
    return server.result(
        "workspace/executeCommand", {"command": "diffill.test.document", "arguments": [uri]}
    )


class Buffer:
    """The editor's side of one document, changed with the test's own position arithmetic."""

    def __init__(self, server: RawServer, text: str, name: str) -> None:
        self.server, self.text, self.version = server, text, 1
        self.uri = temp_uri(f"{name}-{server.new_id()}.py")
        server.notify("textDocument/didOpen", open_params(self.uri, text))

    def change(self, rng: dict, new_text: str, *, apply: bool = True) -> None:
        self.version += 1
        if apply:
            a = index_of(self.text, _pos(rng["start"]), "utf-16")
            b = index_of(self.text, _pos(rng["end"]), "utf-16")
            self.text = self.text[:a] + new_text + self.text[b:]
        self.server.notify(
            "textDocument/didChange",
            change_params(self.uri, self.version, {"range": rng, "text": new_text}),
        )

    def replace_all(self, text: str) -> None:
        self.version += 1
        self.text = text
        self.server.notify(
            "textDocument/didChange", change_params(self.uri, self.version, {"text": text})
        )

    def view(self) -> dict:
        return server_view(self.server, self.uri)


def _pos(p: dict):
    from lsprotocol import types

    return types.Position(line=p["line"], character=p["character"])


def test_a_change_past_the_line_end_lands_at_the_line_end(server: RawServer):
    buf = Buffer(server, "x = 1", "past-end")
    buf.change(lsp_range(0, 99, 0, 99), " # c")
    assert buf.text == "x = 1 # c"
    assert buf.view() == {"version": 2, "text": "x = 1 # c", "lost": ""}


@pytest.mark.parametrize("odd", ["\x0c", "\u2028", "\x85", "\x0b", "\x1c", "\u2029"])
def test_characters_python_splits_lines_at_are_not_line_ends(server: RawServer, odd: str):
    text = f"a = 1\nb = 2\nc = '{odd}'\nvalue = 10000\n"
    buf = Buffer(server, text, "odd-breaks")
    buf.change(lsp_range(3, 12, 3, 13), "1")  # the last 0 of 10000 on line 3
    assert buf.text.endswith("value = 10001\n")
    assert buf.view()["text"] == buf.text


def test_the_parse_follows_the_last_change_received(server: RawServer):
    """Two changes inside the diagnostics delay: replace `pass` with `((( `, add a line."""
    text = "def f():\n    pass\n"
    buf = Buffer(server, text, "stale-tree")
    assert listing(server, buf.uri, buf.text) == expected_listing(buf.text)
    buf.change(lsp_range(1, 4, 1, 8), "((( ")
    buf.change(lsp_range(2, 0, 2, 0), "x = 2\n")
    assert buf.view()["text"] == buf.text
    assert listing(server, buf.uri, buf.text) == expected_listing(buf.text)
    published = server.wait_notification(
        "textDocument/publishDiagnostics",
        lambda p: p["uri"] == buf.uri and p.get("version") == 3,
    )
    assert published["params"]["diagnostics"], "version 3 has a syntax error"


def test_many_quick_changes_keep_the_listing_right(server: RawServer):
    buf = Buffer(server, "def f():\n    pass\n\n\ndef g():\n    ...\n", "quick")
    edits = [
        (lsp_range(1, 4, 1, 8), "((( "),
        (lsp_range(0, 0, 0, 0), "import os\n"),
        (lsp_range(2, 4, 2, 8), "pass"),
        (lsp_range(5, 0, 5, 0), "# note\n"),
        (lsp_range(0, 0, 1, 0), ""),
        (lsp_range(4, 4, 4, 7), "y = ["),
    ]
    for rng, new_text in edits:
        buf.change(rng, new_text)
        assert listing(server, buf.uri, buf.text) == expected_listing(buf.text)
    assert buf.view()["text"] == buf.text


def test_a_refused_change_makes_the_server_say_so_until_the_whole_text_comes(
    server: RawServer,
):
    buf = Buffer(server, "def f():\n    pass\n", "lone-surrogate")
    shown = len(server.notifications)
    buf.change(lsp_range(1, 4, 1, 8), "\ud800", apply=False)
    warning = server.wait_notification(
        "window/showMessage", lambda p: "lost track" in p["message"], after=shown
    )
    assert "lone-surrogate" in warning["params"]["message"]
    buf.change(lsp_range(0, 0, 0, 0), "# more\n", apply=False)  # cannot be applied safely
    view = buf.view()
    assert view["text"] is None and view["version"] == 3 and view["lost"]
    assert listing(server, buf.uri, "") == []  # nothing offered for a text it does not know
    answer = server.request(
        "codeAction/resolve",
        {
            "title": "Fill placeholder",
            "data": {
                "uri": buf.uri,
                "range": lsp_range(1, 4, 1, 8),
                "intent": "fill",
                "version": 3,
            },
        },
    )
    assert answer["error"]["code"] == REQUEST_FAILED
    assert "lost track" in answer["error"]["message"]
    buf.replace_all("def f():\n    ...\n")
    assert buf.view() == {"version": 4, "text": buf.text, "lost": ""}
    assert listing(server, buf.uri, buf.text) == expected_listing(buf.text)


def test_a_version_that_goes_back_is_refused_like_a_bad_change(server: RawServer):
    buf = Buffer(server, "x = 1\n", "version-back")
    buf.change(lsp_range(0, 4, 0, 5), "2")
    buf.version = 1  # the next change claims version 2 again
    buf.change(lsp_range(0, 4, 0, 5), "3", apply=False)
    assert buf.view()["lost"]
    buf.replace_all("x = 4\n")
    assert buf.view()["text"] == "x = 4\n"


def test_a_change_for_a_document_that_is_not_open_changes_nothing(server: RawServer):
    uri = temp_uri("never-opened.py")
    server.notify("textDocument/didChange", change_params(uri, 2, {"text": "x"}))
    assert server_view(server, uri) is None
