"""The base protocol under a hostile client, over real stdio: headers, bodies and JSON-RPC
envelopes that no editor sends. Each gets a logged error or a JSON-RPC error answer (never a
crash, never silence for a request), and the server goes on answering what comes after.
The server's own output is read by a strict parser (tests/raw_lsp.py): every frame it writes
must be exact, UTF-8, strict JSON."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .lsp_harness import server_command, server_env
from .raw_lsp import RawServer, encode, frame, initialized_server, still_answers, temp_uri

HEADER = re.compile(rb"Content-Length: \d+\r\n(?:Content-Type: [^\r\n]*\r\n)?\r\n")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602


@pytest.fixture(scope="module")
def server():
    with initialized_server() as raw:
        yield raw


def no_error_popups(server: RawServer) -> None:
    shown = [
        n["params"]["message"] for n in server.notifications if n["method"] == "window/showMessage"
    ]
    assert not [m for m in shown if "Error in server" in m], shown


@pytest.mark.parametrize("length", [10**15, 2**63, 2**64 + 7, 10**40])
def test_a_huge_content_length_is_refused_and_reading_goes_on(server: RawServer, length: int):
    server.send_bytes(b"Content-Length: %d\r\n\r\n{}" % length)
    still_answers(server)
    assert server.alive()
    no_error_popups(server)


def test_the_huge_content_length_of_the_issue_ends_cleanly_at_end_of_input():
    """`printf 'Content-Length: 1000000000000000\\r\\n\\r\\n{}' | diffill serve`."""
    proc = subprocess.run(
        server_command(),
        input=b"Content-Length: 1000000000000000\r\n\r\n{}",
        env=server_env(),
        capture_output=True,
        timeout=60,
    )
    assert b"MemoryError" not in proc.stderr and b"OverflowError" not in proc.stderr
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()[-3000:]
    # Nothing to answer (the frame held no request), but the refusal is logged.
    messages = [json.loads(body) for body in HEADER.split(proc.stdout)[1:]]
    assert [m["method"] for m in messages] == ["window/logMessage"]
    assert "Content-Length 1000000000000000 is above" in messages[0]["params"]["message"]


def test_garbage_between_frames_and_a_missing_header_are_skipped(server: RawServer):
    server.send_bytes(b"hello\r\nX-Nonsense\r\n\r\n{}\r\n")
    server.send_bytes(b"Content-Type: application/json\r\n\r\n")  # no Content-Length
    server.send_bytes(b"Content-Length: abc\r\n\r\n")
    still_answers(server)


def test_a_body_that_is_not_utf8_gets_a_parse_error(server: RawServer):
    before = len(server.responses.get("null", []))
    server.send_bytes(frame(b'{"jsonrpc": "2.0", "id": 7, "method": "\xff\xfe"}'))
    still_answers(server)
    errors = server.responses["null"][before:]
    assert [e["error"]["code"] for e in errors] == [PARSE_ERROR]
    assert "UTF-8" in errors[0]["error"]["message"]


def test_a_body_that_is_not_json_gets_a_parse_error(server: RawServer):
    before = len(server.responses.get("null", []))
    server.send_bytes(frame(b'{"jsonrpc": "2.0", "id": 8, "method":'))
    still_answers(server)
    errors = server.responses["null"][before:]
    assert [e["error"]["code"] for e in errors] == [PARSE_ERROR]


def test_an_id_of_nan_is_a_parse_error_never_echoed(server: RawServer):
    before = len(server.responses.get("null", []))
    server.send_bytes(frame(b'{"jsonrpc": "2.0", "id": NaN, "method": "shutdown"}'))
    still_answers(server)
    assert [e["error"]["code"] for e in server.responses["null"][before:]] == [PARSE_ERROR]
    assert server.violations == []  # the strict reader would have caught a literal NaN


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "1.0", "id": "v1", "method": "textDocument/codeAction", "params": {}},
        {"id": "no-version", "method": "textDocument/codeAction", "params": {}},
        {"jsonrpc": "2.0", "id": "null-method", "method": None},
        {"jsonrpc": "2.0", "id": "number-method", "method": 5},
        {"jsonrpc": "2.0", "id": "string-params", "method": "shutdown", "params": "x"},
    ],
)
def test_a_bad_envelope_gets_invalid_request_with_its_id(server: RawServer, message: dict):
    server.send(message)
    answer = server.response(message["id"])
    assert answer["error"]["code"] == INVALID_REQUEST, answer
    still_answers(server)


@pytest.mark.parametrize("bad_id", [True, 1.5, [1], {"a": 1}])
def test_an_id_of_the_wrong_type_gets_invalid_request_with_a_null_id(server: RawServer, bad_id):
    before = len(server.responses.get("null", []))
    server.send({"jsonrpc": "2.0", "id": bad_id, "method": "shutdown"})
    still_answers(server)
    assert [e["error"]["code"] for e in server.responses["null"][before:]] == [INVALID_REQUEST]


def test_every_request_in_a_batch_gets_its_own_answer(server: RawServer):
    batch = [
        {"jsonrpc": "2.0", "id": "batch-1", "method": "workspace/executeCommand", "params": {}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": "batch-2", "method": "shutdown"},
    ]
    server.send_bytes(frame(json.dumps(batch).encode()))
    for msg_id in ("batch-1", "batch-2"):
        answer = server.response(msg_id)
        assert answer["error"]["code"] == INVALID_REQUEST
        assert "batch" in answer["error"]["message"]
    still_answers(server)  # and the server did not shut down


def test_a_nested_jsonrpc_object_in_params_is_only_data(server: RawServer):
    nested = {"jsonrpc": "2.0", "id": 99, "method": "shutdown"}
    msg_id = server.request_async(
        "workspace/executeCommand",
        {"command": "diffill.server.fill", "arguments": [{"uri": nested, "range": nested}]},
    )
    answer = server.response(msg_id)
    assert answer["error"]["code"] == INVALID_PARAMS
    assert "uri" in answer["error"]["message"]
    msg_id = server.request_async(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": temp_uri("nested.py")},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": [], "extra": nested},
        },
    )
    assert "error" in server.response(msg_id)  # an unknown document, said so
    still_answers(server)


def test_notifications_that_are_garbage_are_logged_not_shown(server: RawServer):
    server.send(
        {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": 42}}
    )
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": []})
    server.send({"jsonrpc": "2.0", "method": "$/unknownNotification", "params": {}})
    server.send_bytes(encode({"jsonrpc": "2.0", "method": "textDocument/didClose"}))
    still_answers(server)
    no_error_popups(server)


def test_the_issues_command_line_exits_as_lsp_says():
    """The issue's own reproduction, on `diffill serve` itself: no traceback, and the exit
    code of a client that left without shutdown (1)."""
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "diffill.server.cli", "serve"],
        input=b"Content-Length: 1000000000000000\r\n\r\n{}",
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()[-3000:]
    assert proc.returncode == 1
