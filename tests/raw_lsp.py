"""A raw LSP client for tests that must send what no well-behaved client sends: bytes the
test writes itself (broken headers, bodies that are not UTF-8 or not JSON, batches, wrong
versions, bad ids), and answers to the server's own requests that are wrong, late or never
given.

`RawServer` starts the server process (tests/lsp_harness.py by default) and reads its
stdout on a thread with a strict parser of its own: every frame must carry a correct
`Content-Length` in bytes, a body in UTF-8 that is strict JSON (no NaN, no Infinity) and a
JSON-RPC 2.0 envelope. Anything else is recorded in `violations`, which the tests assert
empty. Responses are kept per id, so a second answer to one request is caught too.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .lsp_harness import server_command, server_env

HEADER = re.compile(rb"Content-Length: (\d+)\r\n(?:Content-Type: [^\r\n]*\r\n)?\r\n")
# How long a request may go unanswered before the tests call it a hang.
ANSWER_WITHIN_S = 20.0


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: Any) -> bytes:
    return frame(json.dumps(message).encode("utf-8"))


class Timeout(AssertionError):
    pass


ServerRequestHandler = Callable[[dict], Any]
NO_ANSWER = object()  # a server-request handler's way of never answering
# What a good editor answers (an edit applied, no settings of its own).
DEFAULT_ANSWERS: dict[str, ServerRequestHandler] = {
    "workspace/applyEdit": lambda message: {"applied": True},
    "workspace/configuration": lambda message: [None] * len(message["params"]["items"]),
}


class RawServer:
    """One server process and a strict reader of its output (see the module doc).

    answers: method -> handler(message) for the server's requests (workspace/applyEdit,
    workspace/configuration, window/workDoneProgress/create, ...): the handler returns the
    `result`, a dict with an "error" key to answer with an error, or NO_ANSWER. Without
    one, DEFAULT_ANSWERS, else null.
    """

    def __init__(
        self,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        answers: dict[str, ServerRequestHandler] | None = None,
    ) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            argv or server_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env or server_env(),
        )
        self.answers: dict[str, ServerRequestHandler] = {**DEFAULT_ANSWERS, **(answers or {})}
        self.responses: dict[Any, list[dict]] = {}
        self.notifications: list[dict] = []
        self.server_requests: list[dict] = []
        self.violations: list[str] = []
        self.frames = 0
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- writing ---------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_bytes(encode(message))

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def new_id(self) -> int:
        return next(self._ids)

    def request_async(self, method: str, params: Any = None) -> int:
        msg_id = self.new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    def request(self, method: str, params: Any = None, timeout: float = ANSWER_WITHIN_S) -> dict:
        """Send a request and return its response message (result or error)."""
        return self.response(self.request_async(method, params), timeout)

    def result(self, method: str, params: Any = None, timeout: float = ANSWER_WITHIN_S) -> Any:
        answer = self.request(method, params, timeout)
        assert "error" not in answer, f"{method} failed: {answer['error']}"
        return answer.get("result")

    def response(self, msg_id: Any, timeout: float = ANSWER_WITHIN_S) -> dict:
        key = json.dumps(msg_id)
        deadline = time.monotonic() + timeout
        with self._cond:
            while key not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise Timeout(
                        f"no answer to request {msg_id!r} within {timeout} s"
                        + ("" if self._reader.is_alive() else " (the server's output ended)")
                        + f"\n{self.stacks()}"
                    )
                self._cond.wait(left)
            return self.responses[key][0]

    def wait_notification(
        self,
        method: str,
        check: Callable[[Any], bool] | None = None,
        timeout: float = ANSWER_WITHIN_S,
        after: int = 0,
    ) -> dict:
        """The first notification `method` (passing `check`) from index `after` on."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for note in self.notifications[after:]:
                    if note.get("method") == method and (check is None or check(note["params"])):
                        return note
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout(f"no {method} notification within {timeout} s")
                self._cond.wait(left)

    # -- the session -------------------------------------------------------------------------

    def initialize(
        self,
        capabilities: dict | None = None,
        options: dict | None = None,
        configuration: bool = False,
    ) -> dict:
        caps = capabilities or {
            "general": {"positionEncodings": ["utf-16"]},
            "window": {"workDoneProgress": True},
            "workspace": {
                "applyEdit": True,
                "configuration": configuration,
                "workspaceEdit": {"documentChanges": True},
            },
            "textDocument": {
                "codeAction": {"resolveSupport": {"properties": ["edit"]}},
                "publishDiagnostics": {"versionSupport": True},
            },
        }
        result = self.result(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": None,
                "capabilities": caps,
                "initializationOptions": {"diffill": {"diagnosticsDelayMs": 0, **(options or {})}},
            },
        )
        self.notify("initialized", {})
        return result

    def stop(self, timeout: float = 20.0) -> int:
        """shutdown then exit; the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(Timeout, OSError):
                self.request("shutdown", timeout=timeout)
            with contextlib.suppress(OSError):
                self.notify("exit")
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = 20.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Timeout(f"the server did not exit within {timeout} s") from None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stacks(self) -> str:
        """The server's threads' stacks (the harness dumps them on SIGUSR1), or its stderr."""
        if self.alive():
            with contextlib.suppress(OSError):
                self.proc.send_signal(signal.SIGUSR1)
                time.sleep(0.5)
        return self.stderr_tail(12000)

    def stderr_tail(self, n: int = 4000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-n:]

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.alive():
                self.stop()
        finally:
            self.kill()
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            self._stderr.close()

    # -- reading -----------------------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        out = self.proc.stdout
        buffer = b""
        while True:
            chunk = out.read1(1 << 16)
            if not chunk:
                if buffer:
                    self._violation(f"output ended inside a frame: {buffer[:200]!r}")
                break
            buffer += chunk
            while True:
                match = HEADER.match(buffer)
                if match is None:
                    if len(buffer) > 200 and b"\r\n\r\n" in buffer[:200]:
                        self._violation(f"a malformed header: {buffer[:200]!r}")
                        buffer = b""
                    break
                length = int(match.group(1))
                if len(buffer) < match.end() + length:
                    break
                body = buffer[match.end() : match.end() + length]
                buffer = buffer[match.end() + length :]
                self._frame(body)
        with self._cond:
            self._cond.notify_all()

    def _frame(self, body: bytes) -> None:
        try:
            self._take(body)
        except Exception as err:  # the reader must go on, or the server blocks on its pipe
            self._violation(f"the test client failed on a frame ({err!r}): {body[:200]!r}")

    def _take(self, body: bytes) -> None:
        self.frames += 1
        try:
            message = json.loads(body.decode("utf-8"), parse_constant=_strict_constant)
        except (UnicodeDecodeError, ValueError) as err:
            self._violation(f"a body that is not strict JSON ({err}): {body[:200]!r}")
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self._violation(f"not a JSON-RPC 2.0 message: {body[:200]!r}")
            return
        if "method" in message and "id" in message:
            self._server_request(message)
            return
        with self._cond:
            if "method" in message:
                self.notifications.append(message)
            elif "id" in message and ("result" in message) != ("error" in message):
                key = json.dumps(message["id"])
                self.responses.setdefault(key, []).append(message)
                if len(self.responses[key]) > 1 and message["id"] is not None:
                    self.violations.append(f"a second answer to request {message['id']!r}")
            else:
                self.violations.append(f"neither request, response nor notification: {message}")
            self._cond.notify_all()

    def _server_request(self, message: dict) -> None:
        with self._cond:
            self.server_requests.append(message)
            self._cond.notify_all()
        handler = self.answers.get(message["method"])
        answer = handler(message) if handler is not None else None
        if answer is NO_ANSWER:
            return
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if isinstance(answer, dict) and set(answer) == {"error"}:
            reply["error"] = answer["error"]
        else:
            reply["result"] = answer
        with contextlib.suppress(OSError):
            self.send(reply)

    def _violation(self, what: str) -> None:
        with self._cond:
            self.violations.append(what)
            self._cond.notify_all()


# -- documents ---------------------------------------------------------------------------------


@contextlib.contextmanager
def initialized_server(options: dict | None = None) -> Iterator[RawServer]:
    """A started, initialized server for a module's tests; on the way out, no frame it sent
    may have broken the protocol."""
    with RawServer() as raw:
        raw.initialize(options=options)
        yield raw
        assert raw.violations == []


def open_params(uri: str, text: str, version: int = 1, language: str = "python") -> dict:
    return {"textDocument": {"uri": uri, "languageId": language, "version": version, "text": text}}


def change_params(uri: str, version: int, *changes: dict) -> dict:
    return {"textDocument": {"uri": uri, "version": version}, "contentChanges": list(changes)}


def lsp_range(sl: int, sc: int, el: int, ec: int) -> dict:
    return {"start": {"line": sl, "character": sc}, "end": {"line": el, "character": ec}}


def temp_uri(name: str) -> str:
    return Path(tempfile.gettempdir(), "diffill-raw", name).as_uri()


# -- what a fresh parse says the server must answer --------------------------------------------


def still_answers(server: RawServer) -> None:
    """A well-formed request on a document of its own gets its right answer: the server
    is still there, and still right, after whatever came before (or beside) it."""
    uri = temp_uri(f"still-{server.new_id()}.py")
    server.notify("textDocument/didOpen", open_params(uri, "def f():\n    pass\n"))
    actions = server.result(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": lsp_range(1, 4, 1, 4),
            "context": {"diagnostics": []},
        },
    )
    assert [a["title"] for a in actions] == ["Fill placeholder"]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def whole(text: str) -> dict:
    """A range past the end of any document: LSP clamps it to the whole text."""
    return lsp_range(0, 0, text.count("\n") + text.count("\r") + 5, 0)


def _order(item: tuple[str, dict]) -> str:
    return json.dumps(item, sort_keys=True)


def listing(server: RawServer, uri: str, text: str) -> list[tuple[str, dict]]:
    """The server's code actions for the whole document: (title, range) pairs, sorted."""
    actions = server.result(
        "textDocument/codeAction",
        {"textDocument": {"uri": uri}, "range": whole(text), "context": {"diagnostics": []}},
    )
    return sorted(((a["title"], a["data"]["range"]) for a in actions), key=_order)


def _json_range(doc: Any, a: int, b: int) -> dict:
    from diffill.server.document import Encoding
    from diffill.server.lsp import conversions

    r = conversions.lsp_range(doc, a, b, Encoding.UTF16)
    return lsp_range(r.start.line, r.start.character, r.end.line, r.end.character)


def _fresh(text: str) -> Any:
    from diffill.server import syntax
    from diffill.server.document import Document
    from diffill.server.editing.parsed import ParsedDocument

    return ParsedDocument.parse(Document(text), syntax.language_for_name("python"))


def expected_listing(text: str) -> list[tuple[str, dict]]:
    """What a fresh parse of `text` offers for the whole document (utf-16 positions)."""
    from diffill.server.editing.targets import fill_span
    from diffill.server.lsp import conversions

    parsed = _fresh(text)
    doc = parsed.doc
    found = [
        (conversions.FIX_TITLE, _json_range(doc, *conversions.issue_offsets(doc, issue)))
        for issue in parsed.issues
    ]
    span = fill_span(parsed, 0, len(text))
    if span is not None:
        found.append((conversions.FILL_TITLE, _json_range(doc, *span)))
    if text.strip():
        found.append((conversions.REWRITE_TITLE, _json_range(doc, 0, len(text))))
    return sorted(found, key=_order)


def expected_diagnostics(text: str) -> list[tuple[dict, str]]:
    """(range, message) of each syntax error a fresh parse of `text` finds."""
    from diffill.server.lsp import conversions

    parsed = _fresh(text)
    doc = parsed.doc
    return [
        (_json_range(doc, *conversions.issue_offsets(doc, issue)), issue.message)
        for issue in parsed.issues
    ]
