"""Settings JSON can hold what Python turns into trouble: 1e400 (infinity), 10**400 (an
integer no timer takes), 4,301-digit integers. Each is reported with the default kept, over
real stdio (pytest-lsp's client cannot send such numbers), and the server goes on working:
diagnostics still come after changes."""

from __future__ import annotations

import json

import pytest

from .raw_lsp import RawServer, change_params, encode, frame, lsp_range, open_params, temp_uri

BIG = "1" + "0" * 400


def initialize_raw(server: RawServer, options_json: str) -> None:
    body = (
        '{"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": '
        '{"processId": null, "rootUri": null, "capabilities": {}, '
        f'"initializationOptions": {{"diffill": {options_json}}}}}}}'
    )
    server.send_bytes(frame(body.encode()))
    answer = server.response("init")
    assert "result" in answer, answer
    server.notify("initialized", {})


def warnings(server: RawServer) -> list[str]:
    return [
        n["params"]["message"]
        for n in server.notifications
        if n["method"] == "window/showMessage" and n["params"]["type"] == 2
    ]


@pytest.mark.parametrize(
    "options",
    [
        f'{{"temperature": 1e400, "threshold": -1e400, "diagnosticsDelayMs": {BIG}, '
        f'"steps": {BIG}, "maxSpanTokens": {BIG}, "maxContextTokens": {BIG}}}',
        '{"diagnosticsDelayMs": 1e300, "steps": 1e300, "temperature": 1e308}',
    ],
)
def test_numbers_python_cannot_use_are_reported_and_the_default_kept(options: str):
    with RawServer() as server:
        initialize_raw(server, options)
        server.wait_notification("diffill/status")
        for setting in json.loads(options.replace(BIG, "1").replace("1e400", "1")):
            assert any(f"diffill.{setting}" in w for w in warnings(server)), warnings(server)
        uri = temp_uri("bounds.py")
        server.notify("textDocument/didOpen", open_params(uri, "x = 1\n"))
        server.notify(
            "textDocument/didChange",
            change_params(uri, 2, {"range": lsp_range(0, 4, 0, 5), "text": "(("}),
        )
        published = server.wait_notification(
            "textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p["diagnostics"]
        )
        assert published["params"]["version"] == 2
        assert server.violations == []


def test_a_pushed_setting_out_of_bounds_is_reported_too():
    with RawServer() as server:
        server.initialize()
        server.send_bytes(
            frame(
                b'{"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration", '
                b'"params": {"settings": {"diffill": {"diagnosticsDelayMs": '
                + BIG.encode()
                + b"}}}}"
            )
        )
        server.send_bytes(encode({"jsonrpc": "2.0", "id": "after", "method": "shutdown"}))
        assert "result" in server.response("after")
        assert any("diffill.diagnosticsDelayMs" in w for w in warnings(server))
        assert json.dumps(server.violations) == "[]"
