"""LSP's base protocol, read without trusting the client: frames (`Content-Length` headers
and bodies) cut from a byte stream, and bodies decoded into JSON-RPC 2.0 envelopes.

`FrameReader` is sans-IO: the transport feeds it whatever bytes arrive and gets back whole
bodies, or `Garbage` saying what was skipped. Its memory is bounded: a body above
`MAX_BODY_BYTES` is refused before any of it is buffered, and header lines above
`MAX_HEADER_LINE` are cut. After anything it cannot use it resynchronises on the next
`Content-Length:` header line; JSON cannot hold one (its strings escape CR and LF), so no
body is mistaken for a header.

`decode` turns one body into a `Message` for the protocol, or a `Reply` (a JSON-RPC error
to send, with the request's id when it has a usable one) when the body is not UTF-8, not
strict JSON (NaN and Infinity are not JSON), not an object, a batch (LSP has no batches;
each request in one gets its own error), or an envelope with a wrong `jsonrpc`, `id`,
`method` or `params`. Nested objects are never taken for messages.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

# The largest body read; LSP clients send whole documents in didOpen, and files past this
# are beyond what diffill edits anyway (documents.MAX_DOCUMENT_BYTES is smaller).
MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_HEADER_LINE = 8 * 1024
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*([0-9]*)[ \t]*$", re.IGNORECASE)
_HEADER = re.compile(rb"[A-Za-z0-9-]+:")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


@dataclass(frozen=True)
class Garbage:
    """Bytes the reader skipped, and why (for the log)."""

    reason: str


class FrameReader:
    """Cuts LSP frames out of a byte stream (see the module doc)."""

    def __init__(self, max_body: int = MAX_BODY_BYTES) -> None:
        self._max_body = max_body
        self._buffer = bytearray()
        self._length: int | None = None  # the body length of the header block being read
        self._in_headers = False  # inside a header block (after its Content-Length line)
        self._body: int | None = None  # bytes of body still expected, once headers ended
        self._skipping = False  # inside garbage: reported once, skipped to the next header

    def feed(self, data: bytes) -> list[bytes | Garbage]:
        """Add bytes; the bodies they complete and what was skipped, in stream order."""
        self._buffer += data
        out: list[bytes | Garbage] = []
        while True:
            if self._body is not None:
                if len(self._buffer) < self._body:
                    return out
                out.append(bytes(self._buffer[: self._body]))
                del self._buffer[: self._body]
                self._body = None
                continue
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADER_LINE:
                    # A line too long to be a header: drop it, keeping a tail in which the
                    # start of the next header may already sit.
                    self._garbage(out, "a line too long for a header")
                    tail = self._buffer.rfind(b"Content-Length", len(self._buffer) - 64)
                    self._buffer = bytearray(self._buffer[tail if tail >= 0 else -64 :])
                    self._in_headers = False
                    self._length = None
                return out
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            self._line(line, out)

    def _line(self, line: bytes, out: list[bytes | Garbage]) -> None:
        text = line.rstrip(b"\r\n")
        if not self._in_headers:
            at = line.find(b"Content-Length")
            if at < 0:
                at = line.lower().find(b"content-length")
            if at < 0:
                if _HEADER.match(text) and not self._skipping:
                    # Another header first (LSP does not fix their order): a header block.
                    self._in_headers, self._length = True, None
                elif text.strip():
                    self._garbage(out, "bytes outside a frame")
                return
            if at > 0 and line[:at].strip():
                self._garbage(out, "bytes outside a frame")
            text = line[at:].rstrip(b"\r\n")
            self._in_headers = True
            self._length = None
            self._skipping = False
        if not text:  # the blank line that ends the headers
            self._in_headers = False
            if self._length is None:
                self._garbage(out, "a header block without a valid Content-Length")
            else:
                self._body = self._length
                self._length = None
            return
        match = _CONTENT_LENGTH.match(text)
        if match is not None:
            digits = match.group(1)
            if not digits:
                self._refuse(
                    out, f"Content-Length {text[15:].strip().decode('ascii', 'replace')!r}"
                )
                return
            # Compare digit counts first: int() of a 10,000-digit header is itself slow.
            if len(digits) > len(str(self._max_body)) or int(digits) > self._max_body:
                shown = digits[:24].decode() + ("..." if len(digits) > 24 else "")
                self._refuse(
                    out,
                    f"Content-Length {shown} is above the {self._max_body // (1024 * 1024)} MiB"
                    " limit",
                )
                return
            self._length = int(digits)
            return
        if not _HEADER.match(text):
            self._refuse(out, "a header line that is not 'Name: value'")

    def _refuse(self, out: list[bytes | Garbage], why: str) -> None:
        """Drop the header block being read: what follows is skipped up to the next one."""
        out.append(Garbage(f"{why}; the message is skipped"))
        self._in_headers = False
        self._length = None
        self._skipping = True

    def _garbage(self, out: list[bytes | Garbage], why: str) -> None:
        if not self._skipping:
            out.append(Garbage(f"{why}, skipped up to the next Content-Length header"))
            self._skipping = True


# -- bodies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """A JSON-RPC 2.0 message whose envelope is valid: a request (`id` and `method`), a
    notification (`method` alone) or a response (`id` with `result` or `error`)."""

    data: dict[str, Any]

    @property
    def is_request(self) -> bool:
        return "method" in self.data and "id" in self.data

    @property
    def is_response(self) -> bool:
        return "method" not in self.data


@dataclass(frozen=True)
class Reply:
    """A JSON-RPC error to send back for a body that cannot be handled."""

    id: int | str | None
    code: int
    message: str


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _valid_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, str))


def decode(body: bytes) -> list[Message | Reply]:
    """The messages in one body, or the errors to answer it with (see the module doc)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        return [Reply(None, PARSE_ERROR, f"the message is not UTF-8 (byte {err.start})")]
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        what = str(err) if isinstance(err, ValueError) else "nested too deeply"
        return [Reply(None, PARSE_ERROR, f"the message is not JSON: {what}")]
    if isinstance(value, list):
        return _batch(value)
    return [envelope(value)]


def _batch(items: list[Any]) -> list[Message | Reply]:
    why = "batch arrays are not part of LSP; send each message in its own frame"
    if not items:
        return [Reply(None, INVALID_REQUEST, why)]
    replies: list[Message | Reply] = []
    for item in items:
        if isinstance(item, dict) and "method" in item and _valid_id(item.get("id")):
            replies.append(Reply(item["id"], INVALID_REQUEST, why))
    return replies or [Reply(None, INVALID_REQUEST, why)]


def envelope(value: object) -> Message | Reply:
    """Check one message's envelope; the Reply says what is wrong with it."""
    if not isinstance(value, dict):
        return Reply(None, INVALID_REQUEST, "a message must be a JSON object")
    has_id = "id" in value
    msg_id = value.get("id")
    if has_id and not _valid_id(msg_id) and not (msg_id is None and "method" not in value):
        return Reply(
            None, INVALID_REQUEST, f"the id must be an integer or a string, not {_kind(msg_id)}"
        )
    reply_id = msg_id if has_id and _valid_id(msg_id) else None
    if value.get("jsonrpc") != "2.0":
        if "method" not in value and not has_id:
            return Reply(None, INVALID_REQUEST, "not a JSON-RPC 2.0 message")
        got = json.dumps(value.get("jsonrpc")) if "jsonrpc" in value else "none"
        return Reply(reply_id, INVALID_REQUEST, f'"jsonrpc" must be "2.0", not {got}')
    if "method" in value:
        method = value["method"]
        if not isinstance(method, str):
            return Reply(
                reply_id, INVALID_REQUEST, f"the method must be a string, not {_kind(method)}"
            )
        params = value.get("params")
        if "params" in value and not isinstance(params, (dict, list)):
            return Reply(
                reply_id,
                INVALID_REQUEST,
                f"params must be an object or an array, not {_kind(params)}",
            )
        return Message(value)
    if not has_id:
        return Reply(None, INVALID_REQUEST, "a message needs a method or an id")
    if ("result" in value) == ("error" in value):
        return Reply(None, INVALID_REQUEST, "a response needs exactly one of result and error")
    error = value.get("error")
    if "error" in value and not (
        isinstance(error, dict)
        and isinstance(error.get("code"), int)
        and not isinstance(error.get("code"), bool)
        and isinstance(error.get("message"), str)
    ):
        # Still routed to the request it answers, as a failure: see the protocol.
        return Message(
            {**value, "error": {"code": -32603, "message": f"a malformed error: {error!r}"[:500]}}
        )
    return Message(value)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number" if not (isinstance(value, float) and math.isnan(value)) else "NaN"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
