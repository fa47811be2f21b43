"""`DiffillServer`: the Language Server's state, which every handler shares (the handlers
are registered by `handlers.build_server`): the client's capabilities, what the user is
told, the open documents, the settings, and the parts that do the work, each in its own
module: `diagnostics`, `model_loading` (the model over a session), `edit_runs` (one edit on
the model worker) and `warming` (the context warm-up after typing).

Threads: the event loop answers everything; the model runs on one worker thread
(`ModelWorker`) fed by a bounded queue, and parsing on one of its own (`Documents`), so
listing code actions, diagnostics and document sync never wait for a denoise or a slow
parse. Cancellation is a `threading.Event` the sampler checks between steps, set by
`$/cancelRequest`, by `window/workDoneProgress/cancel` or by newer work that supersedes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from importlib import metadata
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from diffill.model import Backend

from ..document import DocumentError, Encoding
from .conversions import offset_of, offsets_of, status_params
from .diagnostics import Diagnostics
from .documents import ARRIVAL, Documents, OpenDocument
from .edit_runs import EditRuns
from .model_loading import Loader, ModelLoading, model_settings
from .pygls_protocol import DiffillProtocol
from .settings import Settings, parse_settings
from .warming import ContextWarmer
from .worker import ModelWorker

log = logging.getLogger("diffill.lsp")

STATUS = "diffill/status"


def _version() -> str:
    try:
        return metadata.version("diffill")
    except metadata.PackageNotFoundError:
        return "0"


class DiffillServer(LanguageServer):
    """The state every handler shares (registered by `build_server`), and its working parts:
    `diagnostics`, `models`, `edit_runs`, `warmer`.

    backend: the model to drive, as given (tests inject small ones; the `model` and
        `device` settings are then ignored); None: `loader` loads the one the settings
        name, on the worker thread, after `initialized` and whenever they change.
    """

    protocol: DiffillProtocol

    def __init__(
        self,
        backend: Backend | None,
        loader: Loader,
        settings: Settings | None = None,
        name: str = "diffill",
        client_timeout_s: float | None = None,
    ) -> None:
        super().__init__(
            name,
            _version(),
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=DiffillProtocol,
        )
        if client_timeout_s is not None:
            self.protocol.client_timeout_s = client_timeout_s
        self.backend = backend
        self.defaults = settings or Settings()  # what null and invalid values fall back to
        self.settings = self.defaults
        self.model_problem = ""  # why the model named by the settings did not load
        self.models = ModelLoading(self, loader if backend is None else None)
        self.documents = Documents()
        self.encoding = Encoding.UTF16
        self.loop: asyncio.AbstractEventLoop | None = None
        self.busy = False
        self.worker = ModelWorker(self._worker_busy)
        self.warmer = ContextWarmer(self)
        self.diagnostics = Diagnostics(self)
        self.edit_runs = EditRuns(self)
        self.pending_problems: list[str] = []  # settings problems to show once initialized
        self.tasks: set[asyncio.Future] = set()  # diagnostics and settings pulls in flight
        self._told: dict[str, str] = {}  # uri -> the last "no work for this file" message shown
        self.protocol.on_request = self._request_arrived

    # -- client capabilities -----------------------------------------------------------------

    def client_has(self, path: str) -> bool:
        return bool(get_capability(self.client_capabilities, path, False))

    @property
    def versioned_edits(self) -> bool:
        return self.client_has("workspace.workspace_edit.document_changes")

    @property
    def resolvable_edits(self) -> bool:
        props = get_capability(
            self.client_capabilities, "text_document.code_action.resolve_support.properties", []
        )
        return "edit" in (props or [])

    def _experimental(self, name: str) -> bool:
        experimental = self.client_capabilities.experimental
        return isinstance(experimental, dict) and bool(experimental.get(name))

    @property
    def client_preview(self) -> bool:
        return self._experimental("diffillPreview")

    @property
    def client_progress(self) -> bool:
        """The client draws a resolve's progress itself, from `diffill/preview` (the VS Code
        extension's single notification): no work-done progress is created for it."""
        return self._experimental("diffillProgress")

    # -- messages ----------------------------------------------------------------------------

    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls shows every failed notification as an "Error in server" pop-up; what the
        # client sent wrong is logged, and users see only what they can act on.
        log.warning("%s", error)

    def send_status(self) -> None:
        loading = self.models.loading
        self.protocol.notify(
            STATUS, status_params(self.backend, self.busy, self.model_problem, loading)
        )

    def spawn(self, work: Any) -> None:
        """Run a coroutine on the loop, kept until it ends (asyncio keeps weak references)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def settled(self) -> None:
        """Wait for the diagnostics and settings work in flight (tests use it)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def stop_work(self) -> None:
        """The session ends: stop the model and the parses."""
        self.worker.cancel_all()
        self.documents.stop()

    def call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the event loop, from any thread: pygls writes to the client from
        there only."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def _worker_busy(self, busy: bool) -> None:
        def flip() -> None:
            self.busy = busy
            self.send_status()

        self.call_on_loop(flip)

    # -- documents ---------------------------------------------------------------------------

    def _request_arrived(self) -> None:
        ARRIVAL.set(self.documents.snapshot())

    def document(self, uri: str) -> OpenDocument:
        """The document as it was when the request being handled arrived (see ARRIVAL)."""
        arrived = ARRIVAL.get()
        od = arrived.get(uri) if arrived is not None else self.documents.get(uri)
        if od is None:
            raise JsonRpcInvalidParams(
                f"unknown document {uri}: it is not open (textDocument/didOpen comes first)"
            )
        return od

    def open(self, item: types.TextDocumentItem) -> None:
        od = self.documents.open(item)
        self._told.pop(od.uri, None)
        self.tell(od)
        self.diagnostics.schedule(od.uri, 0)

    def change(self, params: types.DidChangeTextDocumentParams) -> None:
        od = self.documents.get(params.text_document.uri)
        if od is None:
            log.info("a change to %s, which is not open, ignored", params.text_document.uri)
            return
        od = self.documents.change(od, params, self.encoding)
        self.tell(od)
        self.diagnostics.schedule(od.uri, self.settings.diagnostics_delay_ms)
        cursor = self._cursor_after(od, params)
        if cursor is None:
            self.warmer.cancel(od.uri)
        else:
            self.warmer.schedule(od, cursor)

    def _cursor_after(
        self, od: OpenDocument, params: types.DidChangeTextDocumentParams
    ) -> int | None:
        """Where the cursor most likely is after a change: the end of the text the last
        edit inserted (None when the change replaced the whole text)."""
        last = params.content_changes[-1] if params.content_changes else None
        if not isinstance(last, types.TextDocumentContentChangePartial) or not od.text_known:
            return None
        try:  # the edit's start is the same place before and after it
            start = offset_of(od.doc, last.range.start, self.encoding)
        except DocumentError:
            return None
        return min(start + len(last.text), len(od.doc.text))

    def close(self, uri: str) -> None:
        self.documents.close(uri)
        self.warmer.cancel(uri)
        self._told.pop(uri, None)
        self.diagnostics.forget(uri)

    def tell(self, od: OpenDocument, parse_problem: str = "") -> None:
        """Say once why diffill does no work for a document (lost track, too large, too slow
        to parse), and nothing again until the reason changes."""
        if od.lost:
            message = (
                f"diffill lost track of {od.name}: {od.lost}. It offers nothing for this file "
                "until the editor sends its whole text again: close and reopen the file."
            )
        elif not od.text_known:
            message = f"diffill: {od.name} is {od.unsupported}; no diagnostics or edits for it."
        elif parse_problem:
            message = (
                f"diffill: {od.name}: {parse_problem}; no diagnostics or edits for it while it "
                "is this long."
            )
        else:
            self._told.pop(od.uri, None)
            return
        if self._told.get(od.uri) != message:
            self._told[od.uri] = message
            self.show(types.MessageType.Warning, message)

    def offsets(self, od: OpenDocument, rng: types.Range) -> tuple[int, int]:
        try:
            return offsets_of(od.doc, rng, self.encoding)
        except DocumentError as err:
            raise JsonRpcInvalidParams(f"bad range: {err}") from None

    # -- settings and the model --------------------------------------------------------------

    def apply_settings(self, section: object) -> None:
        """Merge a `diffill` settings object; report problems; act on what changed."""
        new, problems = parse_settings(section, self.settings, self.defaults)
        for problem in problems:
            self.show(types.MessageType.Warning, f"diffill: {problem}")
        old, self.settings = self.settings, new
        if model_settings(new) != model_settings(old):
            self.models.load()
        if old.warms_context and not new.warms_context:
            self.warmer.stop()
        if (new.diagnostics, new.diagnostics_delay_ms) != (
            old.diagnostics,
            old.diagnostics_delay_ms,
        ):
            for uri in self.documents.uris():
                self.diagnostics.schedule(uri, 0)

    async def pull_settings(self) -> None:
        if not self.client_has("workspace.configuration"):
            return
        try:
            answer = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="diffill")])
            )
        except Exception as err:
            log.warning("workspace/configuration failed: %s", err)
            return
        if answer and answer[0] is not None:
            self.apply_settings(answer[0])

    def shutdown(self) -> None:
        self.worker.cancel_all()
        super().shutdown()
