"""A warm context: after a change, once typing pauses, the model encodes the context of a
completion at the cursor in the background, so that the next inline completion or fill
there finds it encoded (for a model that keeps contexts across requests,
`Backend.reuses_context`: the shipped model keeps the very same context, the block model
every chunk before a change). It works for one cursor per document, the last change's end,
where the user is most likely to ask next.

It is off while the `warmContext` setting or `inlineCompletion` is off
(`Settings.warms_context`): no change then schedules one, and switching either off stops
the warm-ups waiting or running.

It never holds up real work: a warm-up waits `warm_context_delay_ms` of quiet after the
last change (debounced per document), runs on the model worker like any request (so it
never runs beside one), and is cancelled by the next change to its document and by every
real request (a queued warm-up is dropped; a running one stops before its next chunk of
context, keeping what it encoded, which is exact and still of use, or, for the shipped
model, before its next layer, keeping nothing).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..editing import engine
from ..editing.parsed import ParsedDocument
from ..editing.request import EditFailure
from ..editing.targets import completion_request
from .documents import OpenDocument, Stale
from .worker import Superseded

if TYPE_CHECKING:
    from diffill.model import Backend

    from .documents import Documents
    from .settings import Settings
    from .worker import ModelWorker

log = logging.getLogger("diffill.lsp")


class Host(Protocol):
    """What a warmer uses of its server (the server module imports this one)."""

    backend: Backend | None
    loop: asyncio.AbstractEventLoop | None
    settings: Settings
    documents: Documents
    worker: ModelWorker

    def spawn(self, work: Any) -> None: ...


class ContextWarmer:
    """The warm-ups of a server's documents: at most one pending or running per document."""

    def __init__(self, server: Host) -> None:
        self.server = server
        self._waiting: dict[str, asyncio.Future] = {}  # uri -> its debounce-then-warm task
        self._cancels: dict[str, threading.Event] = {}  # uri -> its worker job's cancel
        self.encoded: dict[str, int] = {}  # uri -> tokens its last warm-up encoded (tests)

    def schedule(self, od: OpenDocument, cursor: int) -> None:
        """Warm the context at `cursor` of this version once the document has been quiet
        for the delay; a newer call for the document replaces this one."""
        self.cancel(od.uri)
        if not self.server.settings.warms_context:
            return
        backend = self.server.backend
        if backend is None or not backend.reuses_context or self.server.loop is None:
            return
        if od.lost or not od.text_known or od.lang is None:
            return
        task = asyncio.ensure_future(self._warm_after(od, cursor))
        self._waiting[od.uri] = task
        self.server.spawn(task)

    def cancel(self, uri: str) -> None:
        """Stop the document's warm-up: its wait, or its job on the worker."""
        task = self._waiting.pop(uri, None)
        if task is not None:
            task.cancel()
        event = self._cancels.pop(uri, None)
        if event is not None:
            event.set()

    def stop(self) -> None:
        """Warming was switched off: stop every document's warm-up, waiting or running."""
        for uri in {*self._waiting, *self._cancels}:
            self.cancel(uri)

    def yield_to_request(self) -> None:
        """A real request is about to go to the worker: the warm-ups there make way (the
        ones still waiting out their delay go on, and queue behind it)."""
        for event in self._cancels.values():
            event.set()
        self._cancels.clear()

    async def _warm_after(self, od: OpenDocument, cursor: int) -> None:
        await asyncio.sleep(self.server.settings.warm_context_delay_ms / 1000)
        server = self.server
        if server.documents.get(od.uri) is not od:
            return  # changed or closed meanwhile: its own change scheduled a newer one
        try:
            parsed = await server.documents.parsed(od)
        except Stale:
            return
        if isinstance(parsed, str):
            return  # not parsed (too large, too slow): no completion to warm for either
        cancel = threading.Event()
        # Its own copy of the tree: tree-sitter trees are not shared across threads.
        run = self._job(parsed.copy(), cursor, cancel)
        job = server.worker.submit(run, cancel=cancel, key=("warm context", od.uri))
        self._cancels[od.uri] = cancel
        if self._waiting.get(od.uri) is asyncio.current_task():
            del self._waiting[od.uri]  # it runs on the worker now: `cancel` stops it
        try:
            self.encoded[od.uri] = await asyncio.wrap_future(job.future)
        except Superseded:
            pass
        except Exception as err:  # a warm-up that fails costs the next request time only
            log.warning("warming the context of %s failed: %s", od.uri, err)
        finally:
            if self._cancels.get(od.uri) is cancel:
                del self._cancels[od.uri]

    def _job(
        self, parsed: ParsedDocument, cursor: int, cancel: threading.Event
    ) -> Callable[[], int]:
        server = self.server
        options = server.settings.edit_options()

        def run() -> int:  # on the worker thread
            backend = server.backend
            if backend is None or cancel.is_set():
                return 0
            # The request inline completion would make here, so the context is its.
            request = completion_request(parsed, cursor)
            try:
                prepared = engine.prepare(parsed, request, backend, options)
            except EditFailure:
                return 0
            infill = prepared.infill
            return backend.warm_context(infill.prefix, infill.suffix, cancel)

        return run
