"""Running a server: over stdio (what editors start) or TCP, with its logs sent to the
client and, optionally, to a file. Over stdio nothing but protocol messages reaches stdout."""

from __future__ import annotations

import logging
import sys

from lsprotocol import types

from .server import DiffillServer


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


def serve(
    server: DiffillServer, *, tcp: tuple[str, int] | None = None, log_file: str | None = None
) -> None:
    """Run `server` over stdio (default) or TCP until the client says exit.

    Logs of the `diffill` loggers go to the client (`window/logMessage`) and, with
    `log_file`, to that file along with pygls' warnings. Over stdio, stdout carries the
    protocol alone: anything else printed goes to stderr.
    """
    logger = logging.getLogger("diffill")
    logger.setLevel(logging.INFO)
    logger.addHandler(_ClientLogHandler(server))
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        # pygls logs every message body at INFO: that is a trace, not a log.
        logging.getLogger("pygls").setLevel(logging.WARNING)
        logger.setLevel(logging.DEBUG)
    if tcp is not None:

        @server.feature(types.EXIT)
        def stop_listening(params: None) -> None:
            # pygls ends the process with sys.exit, which asyncio swallows inside a TCP
            # connection callback; closing the listener ends `start_tcp` instead.
            server.shutdown()

        server.start_tcp(*tcp)
        return
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol stream
    try:
        server.start_io(sys.stdin.buffer, stdout)
    finally:
        sys.stdout = sys.__stdout__
