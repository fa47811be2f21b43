"""Running a server: over stdio (what editors start) or TCP, with its logs sent to the
client and, optionally, to a file. Over stdio nothing but protocol messages reaches stdout.

The bytes are read on a thread of their own and cut into frames and decoded there
(`framing`), so a large `didOpen` is parsed as JSON off the event loop; the loop gets whole
messages, or the errors to answer in their place, in the order they came. pygls' own
reading loop is not used: it trusts `Content-Length` (a huge one allocated that much
memory), decoded nested objects as messages, and answered some malformed requests never.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from lsprotocol import types

from . import framing
from .pygls_protocol import Lifecycle
from .server import DiffillServer

log = logging.getLogger("diffill.lsp")
_CHUNK = 1 << 16


class _ClientLogHandler(logging.Handler):
    """Log records as `window/logMessage`, sent from the event loop."""

    _TYPES = (
        (logging.ERROR, types.MessageType.Error),
        (logging.WARNING, types.MessageType.Warning),
        (logging.INFO, types.MessageType.Info),
    )

    def __init__(self, server: DiffillServer) -> None:
        super().__init__(logging.INFO)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        kind = next(
            (t for level, t in self._TYPES if record.levelno >= level), types.MessageType.Log
        )
        params = types.LogMessageParams(type=kind, message=self.format(record))
        self.server.call_on_loop(self.server.window_log_message, params)


def decode_chunk(reader: framing.FrameReader, chunk: bytes) -> list:
    """What one chunk of input completes: messages, replies and garbage, in order."""
    items: list = []
    for piece in reader.feed(chunk):
        if isinstance(piece, framing.Garbage):
            items.append(piece)
        else:
            items.extend(framing.decode(piece))
    return items


class _Session:
    """One connection's end: the exit code, set by `exit`, end of input or a lost pipe."""

    def __init__(self, server: DiffillServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[int] = self.loop.create_future()
        server.loop = self.loop
        server.protocol.on_exit = self.finish

    def finish(self, code: int) -> None:
        if not self.done.done():
            self.done.set_result(code)

    def deliver(self, items: list) -> None:
        handle = self.server.protocol.handle_frame
        for item in items:
            if self.done.done():
                return  # exit came: nothing after it is handled
            try:
                handle(item)
            except Exception:  # one message must never end the session
                log.exception("a message could not be handled")

    def end_of_input(self) -> None:
        """The client closed the connection: as `exit`, 0 only after shutdown."""
        self.finish(0 if self.server.protocol.lifecycle is Lifecycle.SHUT_DOWN else 1)


def _reader_of(stream: BinaryIO) -> Callable[[int], bytes]:
    """Reads of what is there, at most n bytes. On the file descriptor itself when it has
    one: a daemon thread blocked inside a buffered reader holds its lock, and the
    interpreter aborts when it finds that lock held at exit."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return getattr(stream, "read1", stream.read)
    return lambda n: os.read(fd, n)


def _read_stdin(stdin: BinaryIO, session: _Session) -> None:
    reader = framing.FrameReader()
    post: Callable[..., object] = session.loop.call_soon_threadsafe
    read = _reader_of(stdin)
    try:
        while True:
            chunk = read(_CHUNK)
            if not chunk:
                break
            items = decode_chunk(reader, chunk)
            if items:
                post(session.deliver, items)
    except (OSError, ValueError) as err:  # closed under us
        log.info("reading the client's input stopped: %s", err)
    except RuntimeError:  # the loop closed first: the session is over
        return
    with contextlib.suppress(RuntimeError):  # the loop closed first
        post(session.end_of_input)


async def _serve_stdio(server: DiffillServer, stdin: BinaryIO, stdout: BinaryIO) -> int:
    from pygls.io_ import StdoutWriter

    session = _Session(server)
    server.protocol.set_writer(StdoutWriter(stdout))
    threading.Thread(
        target=_read_stdin, args=(stdin, session), name="diffill-stdin", daemon=True
    ).start()
    try:
        return await session.done
    finally:
        server.stop_work()


async def _serve_tcp(server: DiffillServer, host: str, port: int) -> int:
    session = _Session(server)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)
        frames = framing.FrameReader()
        while not session.done.done():
            chunk = await reader.read(_CHUNK)
            if not chunk:
                session.end_of_input()
                break
            items = await asyncio.to_thread(decode_chunk, frames, chunk)
            session.deliver(items)

    listener = await asyncio.start_server(connection, host, port)
    log.info("listening on %s:%s", host, port)
    try:
        async with listener:
            return await session.done
    finally:
        server.stop_work()


def serve(
    server: DiffillServer, *, tcp: tuple[str, int] | None = None, log_file: str | None = None
) -> int:
    """Run `server` over stdio (default) or TCP until the client says exit; the exit code
    LSP gives (0 after shutdown, 1 without).

    Logs of the `diffill` loggers go to the client (`window/logMessage`) and, with
    `log_file`, to that file along with pygls' warnings. Over stdio, stdout carries the
    protocol alone: anything else printed goes to stderr.
    """
    logger = logging.getLogger("diffill")
    logger.setLevel(logging.INFO)
    logger.addHandler(_ClientLogHandler(server))
    # pygls logs every failed request with a traceback; the client gets the error itself.
    logging.getLogger("pygls").addHandler(logging.NullHandler())
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        # pygls logs every message body at INFO: that is a trace, not a log.
        logging.getLogger("pygls").setLevel(logging.WARNING)
        logger.setLevel(logging.DEBUG)
    if tcp is not None:
        return asyncio.run(_serve_tcp(server, *tcp))
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol stream
    try:
        return asyncio.run(_serve_stdio(server, sys.stdin.buffer, stdout))
    finally:
        sys.stdout = sys.__stdout__
