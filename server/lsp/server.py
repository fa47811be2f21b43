"""`DiffillServer`: the Language Server's state and the work behind its handlers (which
`handlers.build_server` registers): documents, diagnostics, settings, the model, and one
edit run on the model worker with progress, preview and cancellation.

Threads: the event loop answers everything; the model runs on one worker thread
(`ModelWorker`) fed by a bounded queue, and parsing on one of its own (`Documents`), so
listing code actions, diagnostics and document sync never wait for a denoise or a slow
parse. Cancellation is a `threading.Event` the sampler checks between steps, set by
`$/cancelRequest`, by `window/workDoneProgress/cancel` or by newer work that supersedes it.

One module past 500 lines: it is one object, the state every handler shares, whose parts
(documents and what the user is told about them, diagnostics, settings and the model, the
edit run) call each other; the protocol, conversions, documents, progress and the worker
already live apart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from importlib import metadata
from typing import Any, Protocol

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from diffill.model import Backend

from ..document import DocumentError, Encoding
from ..editing import engine
from ..editing.parsed import ParsedDocument
from ..editing.request import EditFailure, EditRequest, EditResult, Intent, Status
from ..editing.targets import target_span
from .conversions import (
    EditTarget,
    diagnostic,
    edit_target,
    offset_of,
    offsets_of,
    status_params,
    workspace_edit,
)
from .documents import ARRIVAL, Documents, OpenDocument, Stale
from .progress import PreviewStream, WorkProgress
from .pygls_protocol import DiffillProtocol
from .settings import Settings, parse_settings
from .warming import ContextWarmer
from .worker import ModelWorker, Superseded

log = logging.getLogger("diffill.lsp")

STATUS = "diffill/status"


class Loader(Protocol):
    """How the server loads the model its settings name (`diffill.model.load` fits)."""

    def __call__(
        self, folder: str | None, *, device: str, dtype: str, context_cache_entries: int
    ) -> Backend: ...


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be carried out."""

    CODE = -32803
    MESSAGE = "Request failed"


def _model_settings(s: Settings) -> tuple[str | None, str, str, int]:
    """The settings that take a new load of the model when they change."""
    return (s.model, s.device, s.dtype, s.context_cache_entries)


def _version() -> str:
    try:
        return metadata.version("diffill")
    except metadata.PackageNotFoundError:
        return "0"


class DiffillServer(LanguageServer):
    """The server's state and the work behind its handlers (registered by `build_server`).

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
        self.loader: Loader | None = loader if backend is None else None
        self.defaults = settings or Settings()  # what null and invalid values fall back to
        self.settings = self.defaults
        self.model_problem = ""  # why the model named by the settings did not load
        # the last (folder, device, dtype, context cache entries) asked for
        self._model_wanted: tuple[str | None, str, str, int] | None = None
        self.documents = Documents()
        self.encoding = Encoding.UTF16
        self.loop: asyncio.AbstractEventLoop | None = None
        self.busy = False
        self.worker = ModelWorker(self._worker_busy)
        self.warmer = ContextWarmer(self)
        self._diagnostic_timers: dict[str, asyncio.TimerHandle] = {}
        self._with_diagnostics: set[str] = set()  # uris whose published list is non-empty
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
        loading = None
        if self.backend is None and self.loader is not None and not self.model_problem:
            loading = (self.settings.model or "the shipped model", self.settings.device)
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
        self._tell(od)
        self.schedule_diagnostics(od.uri, 0)

    def change(self, params: types.DidChangeTextDocumentParams) -> None:
        od = self.documents.get(params.text_document.uri)
        if od is None:
            log.info("a change to %s, which is not open, ignored", params.text_document.uri)
            return
        od = self.documents.change(od, params, self.encoding)
        self._tell(od)
        self.schedule_diagnostics(od.uri, self.settings.diagnostics_delay_ms)
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
        timer = self._diagnostic_timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if uri in self._with_diagnostics:
            self._with_diagnostics.discard(uri)
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    def _tell(self, od: OpenDocument, parse_problem: str = "") -> None:
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

    @staticmethod
    def lost_reason(od: OpenDocument) -> str:
        return f"diffill lost track of this document ({od.lost}): close and reopen it"

    def offsets(self, od: OpenDocument, rng: types.Range) -> tuple[int, int]:
        try:
            return offsets_of(od.doc, rng, self.encoding)
        except DocumentError as err:
            raise JsonRpcInvalidParams(f"bad range: {err}") from None

    # -- diagnostics -------------------------------------------------------------------------

    def schedule_diagnostics(self, uri: str, delay_ms: int) -> None:
        """Publish after `delay_ms` without further changes (per document); at once when
        the delay is 0."""
        timer = self._diagnostic_timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if delay_ms <= 0 or self.loop is None:
            self.spawn(self.publish_diagnostics(uri, self.documents.get(uri)))
            return
        self._diagnostic_timers[uri] = self.loop.call_later(
            delay_ms / 1000,
            lambda: self.spawn(self.publish_diagnostics(uri, self.documents.get(uri))),
        )

    async def publish_diagnostics(self, uri: str, od: OpenDocument | None) -> None:
        """Publish the syntax errors of version `od` (an empty list clears them), unless a
        change came since (it scheduled its own), and parse it now, while the user pauses,
        so code actions list from that parse. `od` is taken when scheduled: the task starts
        a loop turn later, maybe after a change whose delay it must not skip."""
        if od is None or self.documents.get(uri) is not od:
            return
        self._diagnostic_timers.pop(uri, None)
        issues = []
        if self.settings.diagnostics and od.text_known and od.lang is not None:
            try:
                parsed = await self.documents.parsed(od)
            except Stale:
                return  # the change that made it stale scheduled its own
            if isinstance(parsed, str):
                self._tell(od, parsed)
            else:
                issues = parsed.issues
                self._tell(od)
        if not issues and uri not in self._with_diagnostics:
            return  # nothing to say, nothing to clear
        diagnostics = [diagnostic(od.doc, i, self.encoding) for i in issues]
        if diagnostics:
            self._with_diagnostics.add(uri)
        else:
            self._with_diagnostics.discard(uri)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=od.version)
        )

    # -- settings and the model --------------------------------------------------------------

    def apply_settings(self, section: object) -> None:
        """Merge a `diffill` settings object; report problems; act on what changed."""
        new, problems = parse_settings(section, self.settings, self.defaults)
        for problem in problems:
            self.show(types.MessageType.Warning, f"diffill: {problem}")
        old, self.settings = self.settings, new
        if _model_settings(new) != _model_settings(old):
            self.load_model()
        if (new.diagnostics, new.diagnostics_delay_ms) != (
            old.diagnostics,
            old.diagnostics_delay_ms,
        ):
            for uri in self.documents.uris():
                self.schedule_diagnostics(uri, 0)

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

    def load_model(self) -> None:
        """(Re)load the model named by the settings, on the worker, after queued work."""
        if self.loader is None:
            if self.settings.model is not None:
                log.info("the model was given when the server was built; diffill.model is ignored")
            return
        loader, wanted = self.loader, _model_settings(self.settings)
        if self._model_wanted == wanted:
            return  # loaded, or its load is queued already
        self._model_wanted = wanted
        folder, device, dtype, entries = wanted

        def run() -> None:
            if self._model_wanted != wanted:
                return  # the settings changed again: a newer load is queued
            try:
                backend = loader(folder, device=device, dtype=dtype, context_cache_entries=entries)
            except Exception as err:  # a folder that does not load keeps the old model
                where = folder or "the shipped model"
                problem = f"cannot load the model ({where}, device {device}): {err}"
                log.error("%s", problem)
                self.call_on_loop(self._model_failed, problem)
                return
            self.backend = backend
            self.model_problem = ""
            log.info("model %s loaded on %s", backend.facts.name, backend.facts.device)
            self.call_on_loop(self.send_status)
            self._warm_up(backend)

        self.worker.submit(run, cancel=threading.Event(), droppable=False)

    @staticmethod
    def _warm_up(backend: Backend) -> None:
        """Pay the model's one-time costs (compiling its step, or reading the compiled
        step from disk; first allocations) now, on the worker, before the first request."""
        try:
            backend.warm_up()
        except Exception as err:  # a model that cannot warm up still serves, only slower
            log.warning("warming up the model failed: %s", err)

    def _model_failed(self, problem: str) -> None:
        self.model_problem = problem
        self.show(types.MessageType.Error, f"diffill: {problem}")
        self.send_status()

    # -- running the engine ------------------------------------------------------------------

    def edit_target(self, value: object, what: str) -> EditTarget:
        """A command's argument or a code action's data; InvalidParams saying what is wrong."""
        try:
            return edit_target(value, what)
        except ValueError as err:
            raise JsonRpcInvalidParams(str(err)) from None

    async def edit(
        self,
        target: EditTarget,
        intent: Intent,
        *,
        title: str,
        token: types.ProgressToken | None,
    ) -> tuple[OpenDocument, EditResult]:
        """Run `intent` on the target's document and range, with progress (on the client's
        token, or one the server creates) and preview; what `codeAction/resolve` and the
        commands share."""
        od = self.document(target.uri)
        if od.lost:
            return od, EditResult(Status.ERROR, self.lost_reason(od))
        start, end = self.offsets(od, target.range)
        request = EditRequest(intent, start, end, target.strength)
        result = await self.compute(
            od,
            request,
            title=title,
            token=token,
            create_progress=not self.client_progress,
            key=(request, od.uri),
        )
        return od, result

    async def compute(
        self,
        od: OpenDocument,
        request: EditRequest,
        *,
        title: str,
        token: types.ProgressToken | None,
        create_progress: bool,
        key: Hashable,
        supersede_running: bool = False,
        order: int | None = None,
    ) -> EditResult:
        """Run one edit on the worker with progress, preview and cancellation; queued work
        with the same `key` is superseded (and running work too, with `supersede_running`).

        The engine gets this version's parse (made now if the listing or the diagnostics
        have not made it yet): the document is not parsed again on the worker.

        A `$/cancelRequest` cancels the awaiting task: the event stops the model within a
        step and the CancelledError goes on to pygls, which answers RequestCancelled.

        order: the worker's ticket, taken when the request arrived (by a caller that
        awaits something first); else taken here, before the first await.
        """
        if order is None:
            order = self.worker.ticket()
        try:
            parsed = await self.documents.parsed(od)
        except Stale:
            return EditResult(Status.CANCELLED, "the document changed", request.start, request.end)
        if isinstance(parsed, str):
            if od.lost:
                return EditResult(Status.ERROR, self.lost_reason(od), request.start, request.end)
            self._tell(od, parsed if od.text_known and od.lang is not None else "")
            return EditResult(Status.UNSUPPORTED, parsed, request.start, request.end)
        msg_id = self.protocol.msg_id
        cancellations = self.protocol.cancellations
        cancel = cancellations.for_request(msg_id)
        progress = preview = None
        result: EditResult | None = None
        try:
            progress = await WorkProgress.begin(
                self.work_done_progress,
                cancellations,
                token,
                title,
                cancel,
                steps=progress_total(self.settings),
                create=create_progress and self.client_has("window.work_done_progress"),
            )
            if self.client_preview or self.settings.preview:
                preview = PreviewStream(
                    self.protocol.notify, od, self.encoding, progress_total(self.settings)
                )
            self.warmer.yield_to_request()
            job = self.worker.submit(
                # Its own copy of the tree: tree-sitter trees are not shared across threads.
                self._edit_job(parsed.copy(), request, cancel, progress, preview),
                cancel=cancel,
                key=key,
                supersede_running=supersede_running,
                order=order,
            )
            outcome: EditResult
            try:
                outcome = await asyncio.wrap_future(job.future)
            except Superseded as why:
                outcome = EditResult(Status.CANCELLED, str(why), request.start, request.end)
            except asyncio.CancelledError:
                cancel.set()
                raise
            except Exception as err:  # isolate a failure to its request
                log.exception("the edit failed")
                outcome = EditResult(
                    Status.ERROR, f"internal error: {err}", request.start, request.end
                )
            if cancel.is_set() and outcome.status is not Status.CANCELLED:
                # Cancelled after the model finished: the client no longer wants the result.
                outcome = EditResult(Status.CANCELLED, "cancelled", request.start, request.end)
            result = outcome  # what `finally` reports
            # Completions come with every keystroke: their outcome goes to the log file only.
            level = logging.DEBUG if supersede_running else logging.INFO
            log.log(level, "%s %s: %s", request.intent.value, od.uri, _summary(outcome))
            return outcome
        finally:
            if progress is not None:
                progress.end(_summary(result))
            if preview is not None:
                preview.done(result)
            cancellations.release(msg_id)

    def _edit_job(
        self,
        parsed: ParsedDocument,
        request: EditRequest,
        cancel: threading.Event,
        progress: WorkProgress | None,
        preview: PreviewStream | None,
    ) -> Callable[[], EditResult]:
        options = self.settings.edit_options()

        def on_step(text: str, step: Any) -> None:
            self.call_on_loop(_stepped, progress, preview, text, step.index, step.masked)

        def on_phase(phase: str) -> None:
            self.call_on_loop(_phased, progress, preview, phase)

        def run() -> EditResult:  # on the worker thread
            backend = self.backend
            if backend is None:
                why = self.model_problem or "the model is still loading"
                return EditResult(Status.ERROR, why, request.start, request.end)
            try:
                span = target_span(parsed, request, options.snap)
                if preview is not None:
                    self.call_on_loop(preview.begin, *span)
                prepared = engine.prepare(parsed, request, backend, options, span)
            except EditFailure as failed:
                return failed.result
            watched = progress is not None or preview is not None
            return engine.edit_prepared(
                prepared,
                backend,
                options,
                on_step if watched else None,
                cancel,
                on_phase if watched else None,
            )

        return run

    async def apply(self, od: OpenDocument, result: EditResult, label: str) -> dict[str, Any]:
        """Send a changed result to the client with workspace/applyEdit, unless the document
        moved on meanwhile; the command's `{applied, reason?}` summary."""
        if not result.changed:
            return refused(result.reason or result.status.value)
        now = self.documents.get(od.uri)
        if now is None:
            return refused("document closed")
        if now is not od:  # every change replaces the OpenDocument
            return refused("document changed")
        if not self.client_has("workspace.apply_edit"):
            return refused("the client cannot apply edits (no workspace.applyEdit)")
        edit = workspace_edit(
            od.uri, od.version, od.doc, result.edits, self.encoding, versioned=self.versioned_edits
        )
        try:
            answer = await self.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except Exception as err:
            return refused(f"the client did not apply the edit: {err}")
        if answer.applied:
            return {"applied": True}
        return refused(answer.failure_reason or "the client did not apply the edit")

    def shutdown(self) -> None:
        self.worker.cancel_all()
        super().shutdown()


def _stepped(
    progress: WorkProgress | None, preview: PreviewStream | None, text: str, index: int, masked: int
) -> None:
    if progress is not None:
        progress.step(index, masked)
    if preview is not None:
        preview.step(text, index)


def _phased(progress: WorkProgress | None, preview: PreviewStream | None, phase: str) -> None:
    if progress is not None:
        progress.phase(phase)
    if preview is not None:
        preview.phase(phase)


def progress_total(settings: Settings) -> int | None:
    """The step count a run reaches at most: the fixed `steps`, else the preset's cap."""
    if settings.steps is not None:
        return settings.steps
    cap = settings.edit_options().sampler.get("max_steps")
    return cap if isinstance(cap, int) else None


def _summary(result: EditResult | None) -> str:
    if result is None:
        return "cancelled"
    if result.changed:
        return f"done in {result.steps} steps"
    status, reason = result.status.value, result.reason
    return f"{status}: {reason}" if reason and reason != status else status


def refused(reason: str) -> dict[str, Any]:
    """A command's answer when nothing was applied."""
    return {"applied": False, "reason": reason}
