"""The lifecycle LSP prescribes, over real stdio: nothing before `initialize` but errors, one
`initialize` only, `shutdown` answered even while the model runs and followed by
InvalidRequest for every request, and the exit code of `exit` (0 after shutdown, 1
without)."""

from __future__ import annotations

from .lsp_harness import gate_path, open_gate, server_env
from .raw_lsp import RawServer, change_params, lsp_range, open_params, temp_uri

INVALID_REQUEST = -32600
SERVER_NOT_INITIALIZED = -32002


def test_requests_before_initialize_get_server_not_initialized():
    with RawServer() as server:
        answer = server.request("textDocument/codeAction", {})
        assert answer["error"]["code"] == SERVER_NOT_INITIALIZED
        answer = server.request("shutdown")
        assert answer["error"]["code"] == SERVER_NOT_INITIALIZED
        server.initialize()
        assert server.violations == []


def test_a_second_initialize_is_refused_and_the_documents_stay():
    with RawServer() as server:
        server.initialize()
        uri = temp_uri("second-initialize.py")
        server.notify("textDocument/didOpen", open_params(uri, "x = 1\n"))
        answer = server.request(
            "initialize", {"processId": None, "rootUri": None, "capabilities": {}}
        )
        assert answer["error"]["code"] == INVALID_REQUEST
        assert "initialize" in answer["error"]["message"]
        server.notify(
            "textDocument/didChange",
            change_params(uri, 2, {"range": lsp_range(0, 4, 0, 5), "text": "2"}),
        )
        view = server.result(
            "workspace/executeCommand", {"command": "diffill.test.document", "arguments": [uri]}
        )
        assert view == {"version": 2, "text": "x = 2\n", "lost": ""}
        assert server.stop() == 0
        assert server.violations == []
        shown = [n for n in server.notifications if n["method"] == "window/showMessage"]
        assert shown == []


def test_shutdown_while_a_command_runs():
    gate = gate_path("lifecycle-shutdown")
    with RawServer(env=server_env(gate)) as server:
        server.initialize()
        uri = temp_uri("shutdown-running.py")
        text = '# slow\n# out: "return 1"\ndef f():\n    pass\n'
        server.notify("textDocument/didOpen", open_params(uri, text))
        running = server.request_async(
            "workspace/executeCommand",
            {
                "command": "diffill.server.fill",
                "arguments": [{"uri": uri, "range": lsp_range(3, 4, 3, 8)}],
            },
        )
        server.wait_notification("$/progress", lambda p: p["value"].get("kind") == "report")
        answer = server.request("shutdown")
        assert answer == {"jsonrpc": "2.0", "id": answer["id"], "result": None}
        stopped = server.response(running)  # answered, not left hanging
        assert stopped.get("result", {}).get("applied") is False or "error" in stopped
        after = server.request("textDocument/codeAction", {})
        assert after["error"]["code"] == INVALID_REQUEST
        assert "shut" in after["error"]["message"]
        server.notify("exit")
        assert server.wait_exit() == 0
        assert server.violations == []
    open_gate(gate)
    gate.unlink(missing_ok=True)


def test_exit_without_shutdown_exits_with_1():
    with RawServer() as server:
        server.initialize()
        server.notify("exit")
        assert server.wait_exit() == 1


def test_exit_after_shutdown_exits_with_0():
    with RawServer() as server:
        server.initialize()
        assert server.stop() == 0


def test_end_of_input_without_exit_ends_the_server():
    with RawServer() as server:
        server.initialize()
        assert server.proc.stdin is not None
        server.proc.stdin.close()
        assert server.wait_exit() == 1  # the client went away without shutdown
