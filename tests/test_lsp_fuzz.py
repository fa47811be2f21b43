"""A hostile client against the real server over stdio, driven by hypothesis, in phases:

- framing: garbage between frames, Content-Length headers that are huge, odd or missing,
  bodies that are not UTF-8 or not strict JSON, batches, bad envelopes, nested JSON-RPC
  objects, frames cut into pieces;
- protocol: requests and notifications for every LSP method the server knows (and some it
  does not) with random and mutated params, commands with random arguments;
- state sync: documents with line breaks of every kind (and characters Python splits lines
  at), changed at random positions, past line ends and past the end, with lone surrogates,
  backwards ranges and versions that go back; the server's text, code actions and
  diagnostics are then compared with a fresh parse of the editor's text;
- concurrency: commands, code actions, resolves, completions, cancellations and edits
  interleaved on several documents, each answer checked against the text it was asked on;
- lifecycle: requests before initialize, a second initialize, shutdown while the model runs,
  requests after shutdown, exit with and without shutdown, the client going away.

Every request must get exactly one answer within `ANSWER_WITHIN_S`, no answer may be an
internal error (-32603), every frame the server writes must be strict JSON (tests/raw_lsp.py
checks), no "Error in server" pop-up may appear, and after every phase a health check must
give the exact expected result. The run in the normal suite is small and deterministic
(`derandomize`); `DIFFILL_FUZZ_MINUTES=15` runs each phase for its share of that time with
fresh random examples, and `DIFFILL_FUZZ_REPORT=path.json` saves the figures (messages per
category, crashes, hangs, internal errors, wrong results), which the run also prints.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .lsp_harness import gate_path, server_env
from .raw_lsp import (
    ANSWER_WITHIN_S,
    RawServer,
    Timeout,
    encode,
    expected_diagnostics,
    expected_listing,
    frame,
    lsp_range,
    temp_uri,
    whole,
)

MINUTES = float(os.environ.get("DIFFILL_FUZZ_MINUTES", "0") or 0)
LONG = MINUTES > 0
REPORT = os.environ.get("DIFFILL_FUZZ_REPORT")
# Examples per phase in the normal suite (about a minute on a small CI machine).
CI_EXAMPLES = {"framing": 30, "protocol": 35, "sync": 35, "concurrency": 15, "lifecycle": 4}
SHARE = {"framing": 0.2, "protocol": 0.2, "sync": 0.25, "concurrency": 0.2, "lifecycle": 0.15}

INTERNAL_ERROR = -32603
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
NOT_INITIALIZED, CANCELLED, CONTENT_MODIFIED, REQUEST_FAILED = -32002, -32800, -32801, -32803


# -- the figures --------------------------------------------------------------------------------


@dataclass
class Figures:
    messages: Counter = field(default_factory=Counter)  # per category
    phases: Counter = field(default_factory=Counter)
    requests: int = 0
    answers: int = 0
    abandoned: int = 0  # requests running when the client said exit (no answer is due)
    crashes: int = 0
    hangs: int = 0
    internal_errors: int = 0
    wrong_results: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {
            "messages_per_category": dict(self.messages),
            "messages": sum(self.messages.values()),
            "phases": dict(self.phases),
            "requests": self.requests,
            "answers": self.answers,
            "abandoned_at_exit": self.abandoned,
            "crashes": self.crashes,
            "hangs": self.hangs,
            "internal_errors": self.internal_errors,
            "wrong_results": self.wrong_results,
            "seconds": round(self.seconds, 1),
            "minutes_asked": MINUTES,
        }


FIGURES = Figures()
STARTED = time.monotonic()


class Wrong(AssertionError):
    """A wrong result: the server answered, but not what the editor's text says."""


def wrong(what: str) -> None:
    FIGURES.wrong_results += 1
    raise Wrong(what)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    FIGURES.seconds = time.monotonic() - STARTED
    figures = FIGURES.as_json()
    print(f"\nLSP fuzz figures: {json.dumps(figures, indent=2)}")
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n")


# -- the editor the fuzzer plays ------------------------------------------------------------------


@dataclass
class Ref:
    """A document as the editor has it (its text is the truth)."""

    text: str
    version: int = 1
    lost: bool = False  # the editor sent something the server must refuse


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Fuzzer:
    """One server process and the editor state; every send is counted by category."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.lock = threading.RLock()
        self.docs: dict[str, Ref] = {}
        self.applied: list[str] = []  # uris whose edit the editor applied
        self.server = RawServer(
            env=env or server_env(), answers={"workspace/applyEdit": self._apply_edit}
        )
        self.category = "setup"
        self.pending: dict[Any, str] = {}  # request id -> method, until answered
        self._count = 0

    # sending ---------------------------------------------------------------------------------

    def send_bytes(self, data: bytes, count: int = 1) -> None:
        FIGURES.messages[self.category] += count
        with self.lock:
            self.server.send_bytes(data)

    def notify(self, method: str, params: Any) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send_bytes(encode(message))

    def request_async(self, method: str, params: Any = None) -> int:
        with self.lock:
            msg_id = self.server.new_id()
            message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
            if params is not None:
                message["params"] = params
            self.pending[msg_id] = method
            FIGURES.requests += 1
            self.send_bytes(encode(message))
        return msg_id

    def answer(self, msg_id: Any, timeout: float = ANSWER_WITHIN_S) -> dict:
        try:
            answer = self.server.response(msg_id, timeout)
        except Timeout:
            if self.server.alive():
                FIGURES.hangs += 1
            else:
                FIGURES.crashes += 1
            raise
        self.pending.pop(msg_id, None)
        FIGURES.answers += 1
        error = answer.get("error")
        if error is not None and error.get("code") == INTERNAL_ERROR:
            FIGURES.internal_errors += 1
            raise AssertionError(f"an internal error: {error}")
        return answer

    def request(self, method: str, params: Any = None) -> dict:
        return self.answer(self.request_async(method, params))

    def result(self, method: str, params: Any = None) -> Any:
        answer = self.request(method, params)
        if "error" in answer:
            wrong(f"{method} failed: {answer['error']}")
        return answer.get("result")

    # documents -------------------------------------------------------------------------------

    def uri(self, name: str = "doc") -> str:
        self._count += 1
        return temp_uri(f"fuzz-{os.getpid()}-{self._count}-{name}.py")

    def open(self, text: str, name: str = "doc") -> str:
        uri = self.uri(name)
        with self.lock:
            self.docs[uri] = Ref(text, 1, _has_lone_surrogate(text))
            self.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
            )
        return uri

    def close(self, uri: str) -> None:
        with self.lock:
            self.docs.pop(uri, None)
            self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def change(
        self, uri: str, changes: list[tuple[dict | None, str]], version_step: int = 1
    ) -> None:
        """Changes as an editor sends them; None as the range: the whole text. The editor's
        own text follows LSP's rules; what the server must refuse (a version that does not
        increase, a backwards range, a lone surrogate) makes the ref lost, until a change
        carrying the whole text."""
        with self.lock:
            ref = self.docs[uri]
            new_version = ref.version + version_step
            text, lost = ref.text, ref.lost
            if version_step <= 0:
                lost = True
            else:
                for rng, new_text in changes:
                    if rng is None:
                        text, lost = new_text, _has_lone_surrogate(new_text)
                        continue
                    if lost:
                        continue
                    a, b = ref_index(text, rng["start"]), ref_index(text, rng["end"])
                    if b < a:
                        lost = True  # a backwards range
                        continue
                    text = text[:a] + new_text + text[b:]
                    lost = _has_lone_surrogate(text)
            ref.text, ref.version, ref.lost = text, new_version, lost
            self.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": new_version},
                    "contentChanges": [
                        {"text": t} if r is None else {"range": r, "text": t} for r, t in changes
                    ],
                },
            )

    def _apply_edit(self, message: dict) -> dict:
        """workspace/applyEdit as an editor answers it: refused for another version, else
        applied and sent back as changes (on the reader thread)."""
        edit = message["params"]["edit"]
        with self.lock:
            for change in edit.get("documentChanges", []):
                uri, version = change["textDocument"]["uri"], change["textDocument"]["version"]
                ref = self.docs.get(uri)
                if ref is None or ref.lost or ref.version != version:
                    return {"applied": False, "failureReason": "the document changed"}
            for change in edit.get("documentChanges", []):
                uri = change["textDocument"]["uri"]
                ordered = sorted(
                    change["edits"],
                    key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                    reverse=True,
                )
                for e in ordered:
                    self.change(uri, [(e["range"], e["newText"])])
                self.applied.append(uri)
        return {"applied": True}

    # checks ----------------------------------------------------------------------------------

    def view(self, uri: str) -> dict | None:
        return self.result(
            "workspace/executeCommand", {"command": "diffill.test.document", "arguments": [uri]}
        )

    def settle(self) -> None:
        """Everything sent so far handled and its diagnostics published."""
        self.result("workspace/executeCommand", {"command": "diffill.test.counts", "arguments": []})

    def check_document(self, uri: str) -> None:
        """The server's text, code actions and diagnostics against a fresh parse."""
        ref = self.docs[uri]
        view = self.view(uri)
        if view is None:
            wrong(f"{uri} is open but the server does not know it")
        assert view is not None
        if view["version"] != ref.version:
            wrong(f"{uri}: version {view['version']} on the server, {ref.version} here")
        if ref.lost:
            if view["text"] is not None:
                wrong(f"{uri}: the server kept a text it should have stopped trusting")
            return
        if view["text"] != ref.text:
            wrong(f"{uri}: the server's text {view['text']!r} is not {ref.text!r}")
        actions = self.result(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": uri},
                "range": whole(ref.text),
                "context": {"diagnostics": []},
            },
        )
        got = sorted(((a["title"], a["data"]["range"]) for a in actions), key=json.dumps)
        if got != sorted(expected_listing(ref.text), key=json.dumps):
            wrong(f"{uri}: code actions {got} for {ref.text!r}")
        self.settle()
        expected = expected_diagnostics(ref.text)
        published = [
            n["params"]
            for n in self.server.notifications
            if n["method"] == "textDocument/publishDiagnostics" and n["params"]["uri"] == uri
        ]
        last = published[-1] if published else None
        if expected:
            if last is None or last.get("version") != ref.version:
                wrong(f"{uri}: no diagnostics for version {ref.version} ({last})")
            assert last is not None
            got_diagnostics = [(d["range"], d["message"]) for d in last["diagnostics"]]
            if got_diagnostics != expected:
                wrong(f"{uri}: diagnostics {got_diagnostics}, not {expected}")
        elif last is not None and last["diagnostics"]:
            wrong(f"{uri}: stale diagnostics {last}")

    def healthy(self) -> None:
        """After every phase: alive, strict, and the exact answer to a known request."""
        if not self.server.alive():
            FIGURES.crashes += 1
            raise AssertionError(f"the server died:\n{self.server.stderr_tail()}")
        assert self.server.violations == [], self.server.violations
        popups = [
            n
            for n in self.server.notifications
            if n["method"] == "window/showMessage" and "Error in server" in n["params"]["message"]
        ]
        assert popups == []
        self.category = "health"
        text = '# out: "return 7"\ndef h():\n    pass\n'
        uri = self.open(text, "health")
        self.check_document(uri)
        result = self.result(
            "workspace/executeCommand",
            {
                "command": "diffill.server.fill",
                "arguments": [{"uri": uri, "range": lsp_range(2, 4, 2, 8)}],
            },
        )
        if result != {"applied": True}:
            wrong(f"the health check's fill answered {result}")
        if self.docs[uri].text != '# out: "return 7"\ndef h():\n    return 7\n':
            wrong(f"the health check's fill gave {self.docs[uri].text!r}")
        self.check_document(uri)
        self.close(uri)

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            self.server.kill()


_BREAK = re.compile(r"\r\n|\r|\n")


def ref_index(text: str, pos: dict) -> int:
    """The str index of an LSP position (utf-16), as LSP says and written apart from the
    server: lines end at \\n, \\r\\n and \\r only; a character past the line end is the line
    end; a line past the end is the end; inside a surrogate pair snaps back to its start."""
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    if pos["line"] >= len(starts):
        return len(text)
    i = starts[pos["line"]]
    units = 0
    while i < len(text) and text[i] not in "\r\n":
        width = 2 if ord(text[i]) > 0xFFFF else 1
        if units + width > pos["character"]:
            break
        units += width
        i += 1
    return i


def apply_lsp_edits(text: str, edits: list[dict]) -> str:
    ordered = sorted(
        edits,
        key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
        reverse=True,
    )
    for e in ordered:
        a, b = ref_index(text, e["range"]["start"]), ref_index(text, e["range"]["end"])
        text = text[:a] + e["newText"] + text[b:]
    return text


@pytest.fixture(scope="module")
def fuzzer():
    fz = Fuzzer()
    fz.server.initialize()
    fz.healthy()
    yield fz
    fz.stop()


def phase_settings(name: str) -> Callable:
    return settings(
        max_examples=CI_EXAMPLES[name] if not LONG else 40,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def run_phase(name: str, test: Callable[[], None]) -> None:
    """The normal suite: one hypothesis run. A long run: runs until the phase's share of
    DIFFILL_FUZZ_MINUTES is spent, each with fresh random examples."""
    until = time.monotonic() + MINUTES * 60 * SHARE[name]
    while True:
        test()
        if not LONG or time.monotonic() > until:
            return


# -- strategies ---------------------------------------------------------------------------------

LINE_BREAKS = ["\n", "\r\n", "\r"]
ODD = ["\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029", "é", "😀", "中", "\t", " "]
CODE = [
    "def f(x):\n    ",
    "pass",
    "...",
    "# TODO: add\n",
    "return x",
    "(",
    ")",
    "[",
    "x = 1",
    "class A:\n    ",
    "if x:\n        ",
    "raise NotImplementedError",
    '"""doc"""',
    "lambda: (",
    "@d\n",
]
pieces = st.one_of(
    st.sampled_from(CODE), st.sampled_from(LINE_BREAKS), st.sampled_from(ODD), st.text(max_size=3)
)
texts = st.lists(pieces, max_size=12).map("".join)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def positions(draw: Any, text: str) -> dict:
    lines = text.count("\n") + text.count("\r") + 1
    return {
        "line": draw(st.integers(0, lines + 1)),
        "character": draw(st.integers(0, max(len(text), 4) + 3)),
    }


@st.composite
def ranges(draw: Any, text: str, backwards: bool = True) -> dict:
    a, b = draw(positions(text)), draw(positions(text))
    if (b["line"], b["character"]) < (a["line"], a["character"]) and not (
        backwards and draw(st.integers(0, 9)) == 0
    ):
        a, b = b, a
    return {"start": a, "end": b}


# -- framing ------------------------------------------------------------------------------------


def _no_header(data: bytes) -> bool:
    return b"ontent-" not in data.lower()


FRAME_KINDS = [
    "ping",
    "garbage",
    "huge length",
    "short length",
    "not utf-8",
    "not json",
    "constant",
    "batch",
    "bad envelope",
    "bad id",
    "nested",
    "pieces",
    "odd header",
]


@st.composite
def frame_ops(draw: Any) -> list[tuple[str, Any]]:
    ops = []
    for kind in draw(st.lists(st.sampled_from(FRAME_KINDS), min_size=1, max_size=10)):
        if kind == "garbage":
            ops.append((kind, draw(st.binary(min_size=1, max_size=300).filter(_no_header))))
        elif kind == "huge length":
            ops.append((kind, draw(st.integers(64 * 1024 * 1024 + 1, 10**40))))
        elif kind == "pieces":
            ops.append((kind, draw(st.lists(st.integers(1, 40), min_size=1, max_size=8))))
        elif kind in ("bad envelope", "bad id", "constant", "odd header"):
            ops.append((kind, draw(st.integers(0, 5))))
        else:
            ops.append((kind, None))
    return ops


def ping_message(fz: Fuzzer) -> tuple[dict, int]:
    msg_id = fz.server.new_id()
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "workspace/executeCommand",
        "params": {"command": "diffill.test.counts", "arguments": []},
    }, msg_id


def run_frames(fz: Fuzzer, ops: list[tuple[str, Any]]) -> None:
    expect: list[tuple[Any, set[int] | None]] = []  # (id, allowed error codes; None: a result)
    nulls = 0  # errors with a null id to come
    for kind, arg in ops:
        if kind == "ping":
            message, msg_id = ping_message(fz)
            fz.send_bytes(encode(message))
            expect.append((msg_id, None))
        elif kind == "garbage":
            fz.send_bytes(arg)
        elif kind == "huge length":
            fz.send_bytes(b"Content-Length: %d\r\n\r\n{}" % arg)
        elif kind == "short length":  # a body cut short: not JSON, and the rest is garbage
            body = json.dumps(ping_message(fz)[0]).encode()
            fz.send_bytes(b"Content-Length: %d\r\n\r\n" % (len(body) // 2) + body)
            nulls += 1
        elif kind == "not utf-8":
            fz.send_bytes(frame(b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}'))
            nulls += 1
        elif kind == "not json":
            fz.send_bytes(frame(b'{"jsonrpc": "2.0", "id": '))
            nulls += 1
        elif kind == "constant":
            constant = ["NaN", "Infinity", "-Infinity", "1e999999", "1" * 5000, "[" * 100000][arg]
            fz.send_bytes(frame(b'{"jsonrpc": "2.0", "id": %s, "method": "x"}' % constant.encode()))
            nulls += 1  # not JSON, or (1e999999, infinity to Python) an id that is no id
        elif kind == "batch":
            batch_ids = [fz.server.new_id() for _ in range(2)]
            batch = [{"jsonrpc": "2.0", "id": i, "method": "shutdown"} for i in batch_ids]
            batch.append({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            fz.send_bytes(frame(json.dumps(batch).encode()))
            expect += [(i, {INVALID_REQUEST}) for i in batch_ids]
        elif kind == "bad envelope":
            msg_id = fz.server.new_id()
            bad = [
                {"jsonrpc": "1.0", "id": msg_id, "method": "shutdown"},
                {"id": msg_id, "method": "shutdown"},
                {"jsonrpc": "2.0", "id": msg_id, "method": None},
                {"jsonrpc": "2.0", "id": msg_id, "method": 7},
                {"jsonrpc": "2.0", "id": msg_id, "method": "shutdown", "params": "x"},
                {"jsonrpc": "2.0", "id": msg_id},
            ][arg]
            fz.send_bytes(encode(bad))
            if arg == 5:  # neither method nor result: nothing to answer it as
                nulls += 1
            else:
                expect.append((msg_id, {INVALID_REQUEST}))
        elif kind == "bad id":
            bad_id = [True, 1.5, [1], {"a": 1}, None, -0.5][arg]
            fz.send_bytes(encode({"jsonrpc": "2.0", "id": bad_id, "method": "shutdown"}))
            nulls += 1
        elif kind == "nested":
            message, msg_id = ping_message(fz)
            message["params"]["arguments"] = [{"jsonrpc": "2.0", "id": 5, "method": "shutdown"}]
            fz.send_bytes(encode(message))
            expect.append((msg_id, None))
        elif kind == "pieces":
            message, msg_id = ping_message(fz)
            data = encode(message)
            at = 0
            for size in arg:
                fz.send_bytes(data[at : at + size], count=0)
                at += size
            fz.send_bytes(data[at:])
            expect.append((msg_id, None))
        elif kind == "odd header":
            message, msg_id = ping_message(fz)
            body = json.dumps(message).encode()
            header = [
                b"content-length: %d\r\n\r\n",
                b"Content-Length:%d\r\n\r\n",
                b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; "
                b"charset=utf-8\r\n\r\n",
                b"Content-Type: x\r\nContent-Length: %d\r\n\r\n",
                b"Content-Length: %d\r\nX-Other: 1\r\n\r\n",
                b"Content-Length: %d\n\n",
            ][arg]
            fz.send_bytes(header % len(body) + body)
            expect.append((msg_id, None))
    FIGURES.requests += len(expect)  # sent as bytes above, answered here
    for msg_id, codes in expect:
        answer = fz.answer(msg_id)
        if codes is None and "error" in answer:
            wrong(f"a well-formed request after garbage failed: {answer}")
        if codes is not None and answer.get("error", {}).get("code") not in codes:
            wrong(f"expected an error {codes}, got {answer}")
    fz.settle()
    null_errors = [a for a in fz.server.responses.get("null", [])]
    codes = {a["error"]["code"] for a in null_errors}
    if not codes <= {PARSE_ERROR, INVALID_REQUEST}:
        wrong(f"null-id answers other than parse errors and invalid requests: {codes}")
    if len(null_errors) < nulls:
        wrong(f"{nulls} null-id errors were due, {len(null_errors)} came")


@phase_settings("framing")
@given(ops=frame_ops())
def framing_phase(fz: Fuzzer, ops) -> None:
    fz.category = "framing"
    FIGURES.phases["framing"] += 1
    fz.server.responses.pop("null", None)
    run_frames(fz, ops)
    fz.healthy()


def test_framing(fuzzer: Fuzzer):
    run_phase("framing", lambda: framing_phase(fuzzer))


# -- protocol -----------------------------------------------------------------------------------

METHODS = [
    "textDocument/codeAction",
    "codeAction/resolve",
    "workspace/executeCommand",
    "textDocument/inlineCompletion",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeConfiguration",
    "window/workDoneProgress/cancel",
    "$/cancelRequest",
    "$/setTrace",
    "initialize",
    "initialized",
    "textDocument/hover",
    "textDocument/completion",
    "workspace/symbol",
    "diffill/unknown",
    "",
]


def templates(uri: str) -> dict[str, Any]:
    rng = lsp_range(1, 4, 1, 8)
    target = {"uri": uri, "range": rng}
    return {
        "textDocument/codeAction": {
            "textDocument": {"uri": uri},
            "range": rng,
            "context": {"diagnostics": [], "only": ["quickfix"]},
        },
        "codeAction/resolve": {
            "title": "Fill placeholder",
            "data": {**target, "intent": "fill", "version": 1},
        },
        "workspace/executeCommand": {"command": "diffill.server.fill", "arguments": [target]},
        "textDocument/inlineCompletion": {
            "textDocument": {"uri": uri},
            "position": {"line": 1, "character": 8},
            "context": {"triggerKind": 1},
        },
        "textDocument/didChange": {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": rng, "text": "pass"}],
        },
        "workspace/didChangeConfiguration": {"settings": {"diffill": {"diagnosticsDelayMs": 0}}},
        "$/cancelRequest": {"id": 1},
    }


@st.composite
def mutated(draw: Any, value: Any) -> Any:
    """A template with one place changed: a key dropped, a value of another type."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        choice = draw(st.integers(0, 2))
        out = dict(value)
        if choice == 0:
            del out[key]
        elif choice == 1:
            out[key] = draw(json_values)
        else:
            out[key] = draw(mutated(value[key]))
        return out
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        return [*value[:i], draw(mutated(value[i])), *value[i + 1 :]]
    return draw(json_values) if draw(st.integers(0, 3)) == 0 else value


SETTING_KEYS = [
    "diagnosticsDelayMs",
    "steps",
    "threshold",
    "temperature",
    "preset",
    "maxSpanTokens",
]


@st.composite
def protocol_ops(draw: Any) -> list[tuple[str, bool, Any]]:
    ops = []
    for _ in range(draw(st.integers(1, 8))):
        method = draw(st.sampled_from(METHODS))
        is_request = draw(st.booleans())
        base = templates("URI").get(method)
        if method == "workspace/didChangeConfiguration":
            section = draw(st.dictionaries(st.sampled_from(SETTING_KEYS), json_values, max_size=3))
            params: Any = {"settings": {"diffill": section}}
        elif base is not None and draw(st.integers(0, 2)) > 0:
            params = draw(mutated(base))
        else:
            params = draw(json_values)
        ops.append((method, is_request, params))
    return ops


def _with_uri(value: Any, uri: str) -> Any:
    if value == "URI":
        return uri
    if isinstance(value, dict):
        return {k: _with_uri(v, uri) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_uri(v, uri) for v in value]
    return value


ANSWERABLE = {
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    INVALID_PARAMS,
    CANCELLED,
    CONTENT_MODIFIED,
    REQUEST_FAILED,
}


@phase_settings("protocol")
@given(ops=protocol_ops())
def protocol_phase(fz: Fuzzer, ops) -> None:
    fz.category = "protocol"
    FIGURES.phases["protocol"] += 1
    uri = fz.open('# out: "return 1"\ndef f():\n    pass\n', "protocol")
    sent = []
    for method, is_request, params in ops:
        params = _with_uri(params, uri)
        if method in ("textDocument/didOpen", "textDocument/didChange", "textDocument/didClose"):
            is_request = False  # the fuzzer's own state must follow what it sends: see below
            if method == "textDocument/didChange" or method == "textDocument/didClose":
                continue  # state sync is its own phase; a stray change here would desync it
            if isinstance(params, dict) and "textDocument" in params:
                continue
        if is_request:
            sent.append((method, fz.request_async(method, params)))
        else:
            fz.notify(method, params)
    for method, msg_id in sent:
        answer = fz.answer(msg_id)
        error = answer.get("error")
        if error is not None and error.get("code") not in ANSWERABLE:
            wrong(f"{method}: an error code LSP does not give such a request: {error}")
    fz.close(uri)
    # Settings the phase may have changed back to what the other phases expect.
    fz.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"diffill": {k: None for k in SETTING_KEYS} | {"diagnosticsDelayMs": 0}}},
    )
    fz.healthy()


def test_protocol(fuzzer: Fuzzer):
    run_phase("protocol", lambda: protocol_phase(fuzzer))


# -- state sync ---------------------------------------------------------------------------------


@st.composite
def sync_ops(draw: Any) -> list[Any]:
    """A document's text and a list of notifications: each a list of (range or None, text),
    with a version step (0 or less: a version that does not increase)."""
    text = draw(texts)
    notes = []
    current = text
    for _ in range(draw(st.integers(1, 10))):
        changes = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.integers(0, 12)) == 0:
                new = draw(texts)
                changes.append((None, new))
                current = new
            else:
                new_text = draw(pieces)
                if draw(st.integers(0, 25)) == 0:
                    new_text += "\ud800"  # a lone surrogate: the server must refuse it
                changes.append((draw(ranges(current)), new_text))
        step = 1 if draw(st.integers(0, 20)) else draw(st.sampled_from([0, -1, 2]))
        notes.append((changes, step))
    return [text, notes]


@phase_settings("sync")
@given(docs=st.lists(sync_ops(), min_size=1, max_size=3))
def sync_phase(fz: Fuzzer, docs) -> None:
    fz.category = "sync"
    FIGURES.phases["sync"] += 1
    uris = [fz.open(text, "sync") for text, _ in docs]
    longest = max(len(notes) for _, notes in docs)
    for i in range(longest):  # interleaved across the documents
        for uri, (_, notes) in zip(uris, docs):
            if i < len(notes):
                changes, step = notes[i]
                fz.change(uri, changes, step)
    for uri in uris:
        fz.check_document(uri)
        fz.close(uri)
    fz.healthy()


def test_state_sync(fuzzer: Fuzzer):
    run_phase("sync", lambda: sync_phase(fuzzer))


# -- concurrency --------------------------------------------------------------------------------

ANSWERS = ["return 1", "return x + 1", "x = [1, 2]", "return 'é😀'"]


@st.composite
def concurrency_ops(draw: Any) -> tuple[list[int], list[tuple[str, int, Any]]]:
    answers = draw(st.lists(st.integers(0, len(ANSWERS) - 1), min_size=2, max_size=4))
    kinds = ["fill", "list", "resolve", "complete", "type", "cancel", "list", "complete"]
    ops = [
        (
            draw(st.sampled_from(kinds)),
            draw(st.integers(0, len(answers) - 1)),
            draw(st.integers(0, 99)),
        )
        for _ in range(draw(st.integers(3, 16)))
    ]
    return answers, ops


def concurrent_doc(answer: str) -> str:
    return f"# out: {json.dumps(answer)}\ndef f(x):\n    pass\n"


@phase_settings("concurrency")
@given(plan=concurrency_ops())
def concurrency_phase(fz: Fuzzer, plan) -> None:
    fz.category = "concurrency"
    FIGURES.phases["concurrency"] += 1
    answers, ops = plan
    uris = [fz.open(concurrent_doc(ANSWERS[a]), "concurrent") for a in answers]
    filled: set[int] = set()
    typed: set[int] = set()
    # (id, kind, doc index, the text it was asked on)
    waiting: list[tuple[int, str, int, str]] = []
    fz.applied.clear()
    for kind, d, n in ops:
        uri = uris[d]
        # The snapshot and the send under one lock: nothing (an edit the editor applies on
        # the reader thread) comes between, so the server handles the request on this text.
        with fz.lock:
            ref = fz.docs[uri]
            snapshot, version = ref.text, ref.version
            if kind == "fill" and d not in filled:
                filled.add(d)
                msg_id = fz.request_async(
                    "workspace/executeCommand",
                    {
                        "command": "diffill.server.fill",
                        "arguments": [{"uri": uri, "range": lsp_range(2, 4, 2, 8)}],
                    },
                )
                waiting.append((msg_id, "fill", d, snapshot))
            elif kind == "list":
                msg_id = fz.request_async(
                    "textDocument/codeAction",
                    {
                        "textDocument": {"uri": uri},
                        "range": whole(snapshot),
                        "context": {"diagnostics": []},
                    },
                )
                waiting.append((msg_id, "list", d, snapshot))
            elif kind == "resolve":
                data = {
                    "uri": uri,
                    "range": lsp_range(2, 4, 2, 8),
                    "intent": "fill",
                    "version": version,
                }
                msg_id = fz.request_async(
                    "codeAction/resolve", {"title": "Fill placeholder", "data": data}
                )
                waiting.append((msg_id, "resolve", d, snapshot))
            elif kind == "complete":
                msg_id = fz.request_async(
                    "textDocument/inlineCompletion",
                    {
                        "textDocument": {"uri": uri},
                        "position": {"line": 2, "character": n % 10},
                        "context": {"triggerKind": 1},
                    },
                )
                waiting.append((msg_id, "complete", d, snapshot))
            elif kind == "type":
                typed.add(d)
                fz.change(uri, [(lsp_range(3, 0, 3, 0), f"y = {n}\n")])
            elif kind == "cancel" and waiting:
                fz.notify("$/cancelRequest", {"id": waiting[n % len(waiting)][0]})
    for msg_id, kind, d, snapshot in waiting:
        answer = fz.answer(msg_id)
        error = answer.get("error")
        if error is not None:
            allowed = {CANCELLED, CONTENT_MODIFIED} | (
                {REQUEST_FAILED} if kind == "resolve" else set()
            )
            if error["code"] not in allowed:
                wrong(f"{kind}: {error}")
            continue
        result = answer["result"]
        if kind == "list" and sorted(
            ((a["title"], a["data"]["range"]) for a in result), key=json.dumps
        ) != sorted(expected_listing(snapshot), key=json.dumps):
            wrong(f"code actions {result} for {snapshot!r}")
        if kind == "fill" and not (
            result == {"applied": True}
            or (result.get("applied") is False and isinstance(result.get("reason"), str))
        ):
            wrong(f"fill answered {result}")
        if kind == "resolve" and result.get("edit") is not None:
            edits = result["edit"]["documentChanges"][0]["edits"]
            done = snapshot.replace("    pass\n", f"    {ANSWERS[answers[d]]}\n", 1)
            if apply_lsp_edits(snapshot, edits) != done:
                wrong(f"resolve gave {edits} on {snapshot!r}")
        if kind == "complete" and not isinstance(result, (list, type(None))):
            wrong(f"inline completion answered {result}")
    fz.settle()
    for d, uri in enumerate(uris):
        ref = fz.docs[uri]
        original = concurrent_doc(ANSWERS[answers[d]])
        if d not in typed:
            done = original.replace("    pass\n", f"    {ANSWERS[answers[d]]}\n")
            if ref.text not in (original, done):
                wrong(f"a document only filled reads {ref.text!r}")
            if (ref.text == done) != (uri in fz.applied):
                wrong("the editor's text and the edits it applied disagree")
        fz.check_document(uri)
        fz.close(uri)
    fz.healthy()


def test_concurrency(fuzzer: Fuzzer):
    run_phase("concurrency", lambda: concurrency_phase(fuzzer))


# -- lifecycle (a server of its own each time) --------------------------------------------------


@st.composite
def lifecycle_plans(draw: Any) -> dict:
    return {
        "before": draw(
            st.lists(st.sampled_from(["textDocument/codeAction", "shutdown", "x"]), max_size=3)
        ),
        "twice": draw(st.booleans()),
        "slow": draw(st.booleans()),
        "shutdown": draw(st.booleans()),
        "after": draw(
            st.lists(
                st.sampled_from(["textDocument/codeAction", "initialize", "shutdown"]), max_size=3
            )
        ),
        "end": draw(st.sampled_from(["exit", "eof"])),
    }


@phase_settings("lifecycle")
@given(plan=lifecycle_plans())
def lifecycle_phase(plan) -> None:
    FIGURES.phases["lifecycle"] += 1
    gate = gate_path(f"fuzz-lifecycle-{os.getpid()}")
    fz = Fuzzer(env=server_env(gate))
    fz.category = "lifecycle"
    try:
        for method in plan["before"]:
            answer = fz.request(method, {})
            if answer.get("error", {}).get("code") != NOT_INITIALIZED:
                wrong(f"{method} before initialize: {answer}")
        fz.server.initialize()
        FIGURES.messages["lifecycle"] += 2
        if plan["twice"]:
            answer = fz.request(
                "initialize", {"processId": None, "rootUri": None, "capabilities": {}}
            )
            if answer.get("error", {}).get("code") != INVALID_REQUEST:
                wrong(f"a second initialize: {answer}")
        running = None
        if plan["slow"]:
            uri = fz.open('# slow\n# out: "return 1"\ndef f():\n    pass\n', "slow")
            running = fz.request_async(
                "workspace/executeCommand",
                {
                    "command": "diffill.server.fill",
                    "arguments": [{"uri": uri, "range": lsp_range(3, 4, 3, 8)}],
                },
            )
            fz.server.wait_notification("$/progress", lambda p: p["value"].get("kind") == "report")
        if plan["shutdown"]:
            if fz.request("shutdown").get("result", "missing") is not None:
                wrong("shutdown did not answer null")
            if running is not None:
                fz.answer(running)  # answered, not left hanging
            for method in plan["after"]:
                answer = fz.request(method, {})
                if answer.get("error", {}).get("code") != INVALID_REQUEST:
                    wrong(f"{method} after shutdown: {answer}")
        if running is not None and not plan["shutdown"]:
            FIGURES.abandoned += 1  # exit (or the client gone) with the fill still running
        if plan["end"] == "exit":
            fz.notify("exit", None)
        else:
            assert fz.server.proc.stdin is not None
            fz.server.proc.stdin.close()
        code = fz.server.wait_exit()
        if code != (0 if plan["shutdown"] else 1):
            if code < 0:
                FIGURES.crashes += 1
            wrong(f"exit code {code} ({plan})")
        assert fz.server.violations == []
    finally:
        fz.server.kill()
        gate.unlink(missing_ok=True)


def test_lifecycle():
    run_phase("lifecycle", lifecycle_phase)


def test_no_failure_anywhere():
    """The figures the phases above gathered: all zero (the module prints them)."""
    assert (FIGURES.crashes, FIGURES.hangs, FIGURES.internal_errors, FIGURES.wrong_results) == (
        0,
        0,
        0,
        0,
    )
    # Every request answered, but those the client left running when it said exit.
    assert FIGURES.answers + FIGURES.abandoned == FIGURES.requests
