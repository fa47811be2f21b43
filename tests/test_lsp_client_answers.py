"""Every request the client sends gets one answer in bounded time, whatever the client
answers to the server's own requests: `workspace/applyEdit`, `workspace/configuration` and
`window/workDoneProgress/create` answered with the wrong type, with an error, with null, or
never. The server waits $DIFFILL_TEST_CLIENT_TIMEOUT_S (2 s here) for an answer."""

from __future__ import annotations

import pytest

from .lsp_harness import server_command, server_env
from .raw_lsp import NO_ANSWER, RawServer, lsp_range, open_params, temp_uri

CLIENT_TIMEOUT_S = 2.0
DOC = '# out: "return a + b"\ndef add(a, b):\n    pass\n'
PASS = lsp_range(2, 4, 2, 8)

WRONG_ANSWERS = {
    "a number": lambda message: 5,
    "null": lambda message: None,
    "a list": lambda message: [1, 2],
    "an error": lambda message: {"error": {"code": -32603, "message": "no"}},
    "a malformed error": lambda message: {"error": {"code": "x"}},
    "no answer": lambda message: NO_ANSWER,
}


def raw_server(load: bool = False, **answers) -> RawServer:
    return RawServer(
        server_command(load=load),
        env=server_env(client_timeout_s=CLIENT_TIMEOUT_S),
        answers=answers,
    )


def fill(server: RawServer, name: str) -> dict:
    uri = temp_uri(f"{name.replace(' ', '-')}-{server.new_id()}.py")
    server.notify("textDocument/didOpen", open_params(uri, DOC))
    return server.result(
        "workspace/executeCommand",
        {"command": "diffill.server.fill", "arguments": [{"uri": uri, "range": PASS}]},
    )


def test_a_bad_apply_edit_answer_still_answers_the_command():
    with raw_server() as server:
        server.initialize()
        for answer, handler in WRONG_ANSWERS.items():
            server.answers["workspace/applyEdit"] = handler
            result = fill(server, answer)
            assert result["applied"] is False, answer
            assert result["reason"], answer
        assert server.violations == []


def test_a_bad_progress_create_answer_still_runs_the_command():
    with raw_server() as server:
        server.initialize()
        for answer in ("a number", "an error", "no answer"):
            server.answers["window/workDoneProgress/create"] = WRONG_ANSWERS[answer]
            assert fill(server, answer) == {"applied": True}, answer
        assert server.violations == []


@pytest.mark.parametrize("answer", ["a number", "null", "an error", "no answer"])
def test_a_bad_configuration_answer_still_loads_the_model(answer: str):
    with raw_server(load=True, **{"workspace/configuration": WRONG_ANSWERS[answer]}) as server:
        server.initialize(configuration=True)
        status = server.wait_notification("diffill/status", lambda p: p["model"] is not None)
        assert status["params"]["model"] == "stand-in"
        assert fill(server, answer) == {"applied": True}
        assert server.violations == []


def test_answers_to_requests_never_sent_are_ignored():
    with raw_server() as server:
        server.initialize()
        server.send({"jsonrpc": "2.0", "id": "never-sent", "result": {"applied": True}})
        server.send({"jsonrpc": "2.0", "id": 12345, "error": {"code": 1, "message": "x"}})
        server.send({"jsonrpc": "2.0", "id": None, "result": 5})
        assert fill(server, "after stray answers") == {"applied": True}
