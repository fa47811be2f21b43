"""Syntax-error diagnostics: published once a document has been quiet for
`diagnosticsDelayMs` (debounced per document; at once on open), from the parse that code
actions then list from, and cleared once fixed or closed. Only lists that say something are
sent: a document that never had an error never gets an empty one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types

from .conversions import diagnostic
from .documents import OpenDocument, Stale

if TYPE_CHECKING:
    from ..document import Encoding
    from .documents import Documents
    from .settings import Settings


class Host(Protocol):
    """What the diagnostics use of their server (the server module imports this one)."""

    loop: asyncio.AbstractEventLoop | None
    settings: Settings
    documents: Documents
    encoding: Encoding

    def spawn(self, work: Any) -> None: ...

    def tell(self, od: OpenDocument, parse_problem: str = "") -> None: ...

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None: ...


class Diagnostics:
    """The diagnostics of a server's documents: at most one publication pending per document."""

    def __init__(self, server: Host) -> None:
        self.server = server
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._published: set[str] = set()  # uris whose published list is non-empty

    def schedule(self, uri: str, delay_ms: int) -> None:
        """Publish after `delay_ms` without further changes (per document); at once when
        the delay is 0."""
        server = self.server
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if delay_ms <= 0 or server.loop is None:
            server.spawn(self.publish(uri, server.documents.get(uri)))
            return
        self._timers[uri] = server.loop.call_later(
            delay_ms / 1000,
            lambda: server.spawn(self.publish(uri, server.documents.get(uri))),
        )

    async def publish(self, uri: str, od: OpenDocument | None) -> None:
        """Publish the syntax errors of version `od` (an empty list clears them), unless a
        change came since (it scheduled its own), and parse it now, while the user pauses,
        so code actions list from that parse. `od` is taken when scheduled: the task starts
        a loop turn later, maybe after a change whose delay it must not skip."""
        server = self.server
        if od is None or server.documents.get(uri) is not od:
            return
        self._timers.pop(uri, None)
        issues = []
        if server.settings.diagnostics and od.text_known and od.lang is not None:
            try:
                parsed = await server.documents.parsed(od)
            except Stale:
                return  # the change that made it stale scheduled its own
            if isinstance(parsed, str):
                server.tell(od, parsed)
            else:
                issues = parsed.issues
                server.tell(od)
        if not issues and uri not in self._published:
            return  # nothing to say, nothing to clear
        diagnostics = [diagnostic(od.doc, i, server.encoding) for i in issues]
        if diagnostics:
            self._published.add(uri)
        else:
            self._published.discard(uri)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=od.version)
        )

    def forget(self, uri: str) -> None:
        """The document closed: nothing pending for it, and its published list cleared."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if uri in self._published:
            self._published.discard(uri)
            self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
