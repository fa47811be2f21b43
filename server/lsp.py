"""The diffill Language Server: the editing engine behind LSP (pygls 2 + lsprotocol).

Build one with `build_server(model)` (an `Infiller`, or a loader such as
`diffill.model.load` called as `loader(folder, device=...)`), run it with `serve(server)`.

What it offers (DESIGN.md, "LSP surface"):
- `textDocument/codeAction` lists "Rewrite selection", "Fill placeholder" (both
  `refactor.rewrite`) and "Repair syntax error" (`quickfix`, attached to its diagnostic)
  from a parse alone; `codeAction/resolve` runs the model and fills in the edit.
- `workspace/executeCommand` `diffill.fill|rewrite|fix` with one argument
  `{uri, range, strength?}`: runs the engine, applies the result with `workspace/applyEdit`
  as a `TextDocumentEdit` on the version it was computed from, returns `{applied, reason?}`.
- `textDocument/inlineCompletion`: completion at the cursor (a fill when the cursor is on a
  one-line placeholder, which the item's range then replaces); a newer request for the same
  document cancels the older one.
- syntax-error diagnostics (source "diffill"), debounced after changes.
- work-done progress per denoising step, `diffill/preview` notifications with the
  intermediate text, `diffill/status` with the model, device and whether it is busy.

Threads: the event loop answers everything; the model runs on one worker thread (`ModelWorker`)
fed by a bounded queue, so listing code actions, diagnostics and document sync never wait for
a denoise. Cancellation is a `threading.Event` the sampler checks between steps, set by
`$/cancelRequest`, by `window/workDoneProgress/cancel` or by newer work that supersedes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Generator, Hashable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import metadata
from typing import Any

from cattrs import transform_error
from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from diffill.model import Backend as Infiller

from . import engine, protocol, syntax
from .document import Document, DocumentError, Encoding
from .engine import EditRequest, EditResult, Intent, Status
from .protocol import EditTarget, Settings

log = logging.getLogger("diffill.lsp")

PREVIEW = "diffill/preview"
STATUS = "diffill/status"
# Model work waiting behind the running job. Editors fire completions on every keystroke;
# beyond a handful of queued requests the oldest are stale anyway.
MAX_QUEUED = 8
# Request ids cancelled before their handler registered (the notification can overtake the
# handler's first step); a short memory is enough since handlers start right away.
_EARLY_CANCELS = 64

Loader = Callable[..., Infiller]  # loader(folder_or_None, device=...) -> Infiller
MsgId = int | str


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be carried out."""

    CODE = -32803
    MESSAGE = "Request failed"


class Superseded(Exception):
    """Queued model work dropped because newer work replaced it or the queue overflowed."""


# -- the model worker ------------------------------------------------------------------------


@dataclass(eq=False)
class Job:
    run: Callable[[], Any]
    cancel: threading.Event
    key: Hashable | None = None  # work with the same key supersedes queued older work
    droppable: bool = True  # model loads are never dropped
    future: Future = field(default_factory=Future)


def _settle(future: Future, error: BaseException) -> None:
    # The awaiting side may have cancelled the future already (its request was cancelled).
    with contextlib.suppress(InvalidStateError):
        future.set_exception(error)


class ModelWorker:
    """One thread that runs model work in order; torch is not faster with two models
    competing for the same cores, and one thread keeps results in request order."""

    def __init__(self, on_busy: Callable[[bool], None], max_queued: int = MAX_QUEUED) -> None:
        assert max_queued >= 1
        self._on_busy = on_busy
        self._max_queued = max_queued
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._running: Job | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def submit(
        self,
        run: Callable[[], Any],
        *,
        cancel: threading.Event,
        key: Hashable | None = None,
        droppable: bool = True,
        supersede_running: bool = False,
    ) -> Job:
        """Queue `run`; a queued job with the same key is dropped (and, with
        `supersede_running`, a running one is cancelled). Past `max_queued`, the oldest
        droppable job is dropped."""
        job = Job(run, cancel, key, droppable)
        dropped: list[tuple[Job, str]] = []
        with self._cond:
            if self._stopped:
                _settle(job.future, Superseded("the server is shutting down"))
                return job
            if key is not None:
                for old in [j for j in self._queue if j.key == key]:
                    self._queue.remove(old)
                    dropped.append((old, "superseded by a newer request"))
                running = self._running
                if supersede_running and running is not None and running.key == key:
                    running.cancel.set()
            self._queue.append(job)
            while sum(j.droppable for j in self._queue) > self._max_queued:
                oldest = next(j for j in self._queue if j.droppable)
                self._queue.remove(oldest)
                dropped.append((oldest, "dropped: too much model work queued"))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="diffill-model", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        for old, why in dropped:
            old.cancel.set()
            _settle(old.future, Superseded(why))
        return job

    def cancel_all(self) -> None:
        """Stop the running job within a step and drop the queue (shutdown)."""
        with self._cond:
            self._stopped = True
            queued = list(self._queue)
            self._queue.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._cond.notify()
        for job in queued:
            job.cancel.set()
            _settle(job.future, Superseded("the server is shutting down"))

    def _serve(self) -> None:
        busy = False
        while True:
            with self._cond:
                idle = not self._queue
            if idle and busy:  # callbacks run outside the lock: they may submit work
                busy = False
                self._on_busy(False)
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if not self._queue:
                    return
                job = self._queue.popleft()
                self._running = job
            if not busy:
                busy = True
                self._on_busy(True)
            try:
                if not job.future.set_running_or_notify_cancel():
                    continue
                if job.cancel.is_set():
                    job.future.set_exception(Superseded("cancelled before it started"))
                    continue
                try:
                    job.future.set_result(job.run())
                except BaseException as err:  # the request reports it; the worker lives on
                    job.future.set_exception(err)
            finally:
                with self._cond:
                    self._running = None


# -- cancellation ----------------------------------------------------------------------------


class Cancellations:
    """The `threading.Event` that stops each request's denoising, found by request id
    (`$/cancelRequest`) or by progress token (`window/workDoneProgress/cancel`). Used on the
    event loop only."""

    def __init__(self) -> None:
        self._by_request: dict[MsgId, threading.Event] = {}
        self._by_token: dict[types.ProgressToken, threading.Event] = {}
        self._early: deque[MsgId] = deque(maxlen=_EARLY_CANCELS)

    def for_request(self, msg_id: MsgId | None) -> threading.Event:
        event = threading.Event()
        if msg_id is not None:
            if msg_id in self._early:
                event.set()
            self._by_request[msg_id] = event
        return event

    def cancel_request(self, msg_id: MsgId) -> None:
        event = self._by_request.get(msg_id)
        if event is None:
            self._early.append(msg_id)
        else:
            event.set()

    def link_token(self, token: types.ProgressToken, event: threading.Event) -> None:
        self._by_token[token] = event

    def cancel_token(self, token: types.ProgressToken) -> None:
        event = self._by_token.get(token)
        if event is not None:
            event.set()

    def release(self, msg_id: MsgId | None, token: types.ProgressToken | None = None) -> None:
        self._by_request.pop(msg_id, None)  # type: ignore[arg-type]
        if token is not None:
            self._by_token.pop(token, None)


# -- the protocol: where pygls' defaults do not fit ------------------------------------------

_ANSWERED = object()  # a malformed request that already got its error response


class DiffillProtocol(LanguageServerProtocol):
    """pygls' LSP protocol with four changes:

    - utf-8 positions whenever the client offers them (pygls takes the client's first
      preference, usually utf-16, which costs a conversion on every position);
    - a request whose params do not match the method's schema is answered with
      InvalidParams (pygls only logs it, leaving the client waiting forever);
    - `$/cancelRequest` also sets the request's cancellation event, which stops the model
      within one step (pygls can only cancel the awaiting task, not the worker thread);
    - the work-done token of `workspace/executeCommand` is made visible to the command.
    """

    _server: DiffillServer

    def __init__(self, server: DiffillServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.cancellations = Cancellations()
        self.command_token: contextvars.ContextVar[types.ProgressToken | None] = (
            contextvars.ContextVar("command_token", default=None)
        )

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(  # type: ignore[override]
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        general = params.capabilities.general
        offered = list(general.position_encodings or []) if general else []
        if general is not None and types.PositionEncodingKind.Utf8 in offered:
            offered.remove(types.PositionEncodingKind.Utf8)
            general.position_encodings = [types.PositionEncodingKind.Utf8, *offered]
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        # The command handler runs in a copy of this context, so it sees the token.
        self.command_token.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))

    def _handle_cancel_notification(self, msg_id: MsgId) -> None:
        self.cancellations.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise
            method = data["method"]
            detail = _validation_detail(error.__cause__) or error.message
            reply = JsonRpcInvalidParams(f"invalid params for {method}: {detail}")
            self._send_response(data["id"], error=reply.to_response_error())
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is _ANSWERED:
            return
        super().handle_message(message)


def _validation_detail(error: BaseException | None) -> str:
    """What cattrs found wrong, one line per field ("missing required field @ $.range")."""
    if error is None:
        return ""
    try:
        return "; ".join(transform_error(error))  # type: ignore[arg-type]
    except Exception:
        return str(error)


# -- documents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenDocument:
    """One open editor buffer, as the client last described it."""

    uri: str
    version: int
    language_id: str
    doc: Document
    lang: syntax.LanguageSpec | None  # None: no grammar for it; `unsupported` says why
    unsupported: str = ""


def _language(uri: str, language_id: str) -> tuple[syntax.LanguageSpec | None, str]:
    """The languageId decides; a file name is the fallback for ids the registry does not
    know (a client may send "plaintext" for a .py buffer it has no mode for)."""
    try:
        return engine.language_of(None, language_id), ""
    except engine.EditFailure as failure:
        try:
            return engine.language_of(to_fs_path(uri), None), ""
        except engine.EditFailure:
            return None, failure.result.reason


def _edit_tree(
    tree: Any, old: Document, new: Document, start: int, old_end: int, new_end: int
) -> None:
    """Tell a tree about one text change (str offsets), in tree-sitter's bytes and
    (row, byte column) points."""

    def point(doc: Document, offset: int) -> tuple[int, int]:
        pos = doc.position_at(offset, Encoding.UTF8)
        return pos.line, pos.character

    tree.edit(
        start_byte=old.byte_offset(start),
        old_end_byte=old.byte_offset(old_end),
        new_end_byte=new.byte_offset(new_end),
        start_point=point(old, start),
        old_end_point=point(old, old_end),
        new_end_point=point(new, new_end),
    )


class Analysis:
    """The parse of one document version, shared by diagnostics and code action listing
    (a 5,000-line file takes tens of milliseconds to parse and walk: done once per
    version, usually while the diagnostics debounce runs, not when the user asks)."""

    def __init__(
        self, od: OpenDocument, lang: syntax.LanguageSpec, old_tree: Any | None = None
    ) -> None:
        self.version = od.version
        self.doc = od.doc
        self.lang = lang
        self._old_tree = old_tree  # the previous version's tree, edited to match

    @cached_property
    def tree(self) -> Any:
        tree = syntax.parse(self.doc.text.encode("utf-8"), self.lang, self._old_tree)
        self._old_tree = None
        return tree

    @property
    def parsed(self) -> bool:
        return "tree" in self.__dict__

    @cached_property
    def issues(self) -> list[syntax.SyntaxIssue]:
        return syntax.syntax_issues(self.tree)

    def placeholders_in(self, start: int, end: int) -> list[syntax.Placeholder]:
        """Placeholders a selection touches; for a cursor, the one containing it or else
        the first on its line. Only the part of the tree near the range is walked."""
        doc = self.doc
        b_start, b_end = doc.byte_offset(start), doc.byte_offset(end)
        if start != end:
            return syntax.placeholders(self.tree, self.lang, within=(b_start, b_end))
        found = syntax.placeholder_at(self.tree, self.lang, b_start)
        return [found] if found is not None else []


# -- progress and preview --------------------------------------------------------------------


class WorkProgress:
    """Work-done progress for one model run: begin, a report per denoising step, end.
    Used on the event loop."""

    def __init__(self, server: DiffillServer, token: types.ProgressToken, steps: int | None):
        self.server = server
        self.token = token
        self.steps = steps

    @classmethod
    async def begin(
        cls,
        server: DiffillServer,
        token: types.ProgressToken | None,
        title: str,
        cancel: threading.Event,
        *,
        create: bool,
    ) -> WorkProgress | None:
        """Progress on the client's token, or on one the server creates when the client
        supports `window/workDoneProgress/create` and `create` is set; None otherwise."""
        if token is None:
            if not create or not server.client_has("window.work_done_progress"):
                return None
            token = f"diffill-{uuid.uuid4()}"
            try:
                await server.work_done_progress.create_async(token)
            except Exception as err:  # a client that refuses only loses the progress bar
                log.info("no progress: the client refused a token: %s", err)
                return None
        steps = server.settings.steps
        server.protocol.cancellations.link_token(token, cancel)
        server.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=title,
                cancellable=True,
                message="starting",
                percentage=0 if steps else None,
            ),
        )
        return cls(server, token, steps)

    def step(self, index: int, masked: int) -> None:
        of = f"/{self.steps}" if self.steps else ""
        self.server.work_done_progress.report(
            self.token,
            types.WorkDoneProgressReport(
                message=f"step {index}{of}, {masked} tokens still masked",
                percentage=min(100, 100 * index // self.steps) if self.steps else None,
                cancellable=True,
            ),
        )

    def end(self, message: str) -> None:
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.server.work_done_progress.tokens.pop(self.token, None)
        self.server.protocol.cancellations.release(None, self.token)


class PreviewStream:
    """`diffill/preview` notifications for one model run. Used on the event loop."""

    def __init__(self, server: DiffillServer, od: OpenDocument, steps: int | None) -> None:
        self.server = server
        self.od = od
        self.steps = steps
        self.range: types.Range | None = None  # set once the engine has chosen the span
        self.original = ""
        self.last_step = 0

    def begin(self, start: int, end: int) -> None:
        self.range = protocol.lsp_range(self.od.doc, start, end, self.server.encoding)
        self.original = self.od.doc.text[start:end]

    def step(self, text: str, index: int) -> None:
        if self.range is not None:
            self.last_step = index
            self._send(text, index, self.steps, done=False)

    def done(self, result: EditResult | None) -> None:
        """The last notification: the final text, or the original one when nothing
        changed (so a client drawing the preview can restore the span)."""
        if self.range is None:
            return
        text, steps = self.original, self.last_step
        if result is not None:
            text = result.replacement if result.changed else self.original
            steps = result.steps or self.last_step
        self._send(text, steps, steps, done=True)

    def _send(self, text: str, step: int, steps: int | None, *, done: bool) -> None:
        assert self.range is not None
        self.server.protocol.notify(
            PREVIEW, protocol.preview_params(self.od.uri, self.range, text, step, steps, done)
        )


# -- the server ------------------------------------------------------------------------------


def _version() -> str:
    try:
        return metadata.version("diffill")
    except metadata.PackageNotFoundError:
        return "0"


class DiffillServer(LanguageServer):
    """The server's state and the work behind its handlers (registered by `build_server`)."""

    protocol: DiffillProtocol

    def __init__(
        self, model: Infiller | Loader, settings: Settings | None = None, name: str = "diffill"
    ) -> None:
        super().__init__(
            name,
            _version(),
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=DiffillProtocol,
        )
        # Anything with `infill` is a model (tests pass stand-ins); otherwise a loader.
        self.infiller: Infiller | None = model if hasattr(model, "infill") else None  # type: ignore[assignment]
        self.loader: Loader | None = None if self.infiller is not None else model  # type: ignore[assignment]
        self.defaults = settings or Settings()  # what null and invalid values fall back to
        self.settings = self.defaults
        self.model_problem = ""  # why the model named by the settings did not load
        self._model_wanted: tuple[str | None, str] | None = None  # last (folder, device) asked
        self.documents: dict[str, OpenDocument] = {}
        self.encoding = Encoding.UTF16
        self.loop: asyncio.AbstractEventLoop | None = None
        self.busy = False
        self.worker = ModelWorker(self._worker_busy)
        self._analyses: dict[str, Analysis] = {}
        # The last parsed tree of a document with every change since applied (Tree.edit),
        # so the next parse is incremental.
        self._edited_trees: dict[str, Any] = {}
        self._diagnostic_timers: dict[str, asyncio.TimerHandle] = {}
        self._with_diagnostics: set[str] = set()  # uris whose published list is non-empty
        self._pending_problems: list[str] = []
        self.pulls: set[asyncio.Future] = set()  # workspace/configuration requests in flight

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

    @property
    def client_preview(self) -> bool:
        experimental = self.client_capabilities.experimental
        return isinstance(experimental, dict) and bool(experimental.get("diffillPreview"))

    # -- messages ----------------------------------------------------------------------------

    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def send_status(self) -> None:
        self.protocol.notify(
            STATUS, protocol.status_params(self.infiller, self.busy, self.model_problem)
        )

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

    def document(self, uri: str) -> OpenDocument:
        od = self.documents.get(uri)
        if od is None:
            raise JsonRpcInvalidParams(
                f"unknown document {uri}: it is not open (textDocument/didOpen comes first)"
            )
        return od

    def open(self, item: types.TextDocumentItem) -> OpenDocument:
        lang, why = _language(item.uri, item.language_id)
        od = OpenDocument(item.uri, item.version, item.language_id, Document(item.text), lang, why)
        self.documents[item.uri] = od
        return od

    def change(self, params: types.DidChangeTextDocumentParams) -> OpenDocument:
        od = self.document(params.text_document.uri)
        doc = od.doc
        previous = self._analyses.get(od.uri)
        # A copy: the previous version's analysis keeps its own tree intact.
        tree = previous.tree.copy() if previous is not None and previous.parsed else None
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                # Each change's range refers to the text after the changes before it.
                start, end = protocol.offsets_of(doc, change.range, self.encoding)
                new_doc = Document(doc.text[:start] + change.text + doc.text[end:])
                if tree is not None:
                    _edit_tree(tree, doc, new_doc, start, end, start + len(change.text))
                doc = new_doc
            else:
                doc = Document(change.text)
                tree = None
        if tree is not None:
            self._edited_trees[od.uri] = tree
        else:
            self._edited_trees.pop(od.uri, None)
        od = replace(od, version=params.text_document.version, doc=doc)
        self.documents[od.uri] = od
        return od

    def close(self, uri: str) -> None:
        self.documents.pop(uri, None)
        self._analyses.pop(uri, None)
        self._edited_trees.pop(uri, None)
        timer = self._diagnostic_timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if uri in self._with_diagnostics:
            self._with_diagnostics.discard(uri)
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    def analysis(self, od: OpenDocument) -> Analysis | None:
        if od.lang is None:
            return None
        cached = self._analyses.get(od.uri)
        if cached is None or cached.version != od.version or cached.doc is not od.doc:
            old_tree = self._edited_trees.pop(od.uri, None)
            cached = self._analyses[od.uri] = Analysis(od, od.lang, old_tree)
        return cached

    def offsets(self, od: OpenDocument, rng: types.Range) -> tuple[int, int]:
        try:
            return protocol.offsets_of(od.doc, rng, self.encoding)
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
            self.publish_diagnostics(uri)
            return
        self._diagnostic_timers[uri] = self.loop.call_later(
            delay_ms / 1000, self.publish_diagnostics, uri
        )

    def publish_diagnostics(self, uri: str) -> None:
        """Publish the syntax errors of the current version (an empty list clears them),
        and parse it now, while the user pauses, so code actions list from the cache."""
        self._diagnostic_timers.pop(uri, None)
        od = self.documents.get(uri)
        if od is None:
            return
        found = self.analysis(od)
        issues = found.issues if found is not None and self.settings.diagnostics else []
        if not issues and uri not in self._with_diagnostics:
            return  # nothing to say, nothing to clear
        diagnostics = [protocol.diagnostic(od.doc, i, self.encoding) for i in issues]
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
        new, problems = protocol.parse_settings(section, self.settings, self.defaults)
        for problem in problems:
            self.show(types.MessageType.Warning, f"diffill: {problem}")
        old, self.settings = self.settings, new
        if (new.model, new.device) != (old.model, old.device):
            self.load_model()
        if (new.diagnostics, new.diagnostics_delay_ms) != (
            old.diagnostics,
            old.diagnostics_delay_ms,
        ):
            for uri in list(self.documents):
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
        loader, folder, device = self.loader, self.settings.model, self.settings.device
        if self._model_wanted == (folder, device):
            return  # loaded, or its load is queued already
        self._model_wanted = wanted = (folder, device)

        def run() -> None:
            if self._model_wanted != wanted:
                return  # the settings changed again: a newer load is queued
            try:
                infiller = loader(folder, device=device)
            except Exception as err:  # a folder that does not load keeps the old model
                where = folder or "the shipped model"
                problem = f"cannot load the model ({where}, device {device}): {err}"
                log.error("%s", problem)
                self.call_on_loop(self._model_failed, problem)
                return
            self.infiller = infiller
            self.model_problem = ""
            log.info("model %s loaded on %s", infiller.name, infiller.device)
            self.call_on_loop(self.send_status)

        self.worker.submit(run, cancel=threading.Event(), droppable=False)

    def _model_failed(self, problem: str) -> None:
        self.model_problem = problem
        self.show(types.MessageType.Error, f"diffill: {problem}")
        self.send_status()

    # -- running the engine ------------------------------------------------------------------

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
    ) -> EditResult:
        """Run one edit on the worker with progress, preview and cancellation; queued work
        with the same `key` is superseded (and running work too, with `supersede_running`).

        A `$/cancelRequest` cancels the awaiting task: the event stops the model within a
        step and the CancelledError goes on to pygls, which answers RequestCancelled.
        """
        if od.lang is None:
            return EditResult(Status.UNSUPPORTED, od.unsupported, request.start, request.end)
        lang = od.lang
        msg_id = self.protocol.msg_id
        cancel = self.protocol.cancellations.for_request(msg_id)
        progress = preview = None
        result: EditResult | None = None
        try:
            progress = await WorkProgress.begin(self, token, title, cancel, create=create_progress)
            if self.client_preview or self.settings.preview:
                preview = PreviewStream(self, od, self.settings.steps)
            job = self.worker.submit(
                self._edit_job(od, lang, request, cancel, progress, preview),
                cancel=cancel,
                key=key,
                supersede_running=supersede_running,
            )
            try:
                result = await asyncio.wrap_future(job.future)
            except Superseded as why:
                result = EditResult(Status.CANCELLED, str(why), request.start, request.end)
            except asyncio.CancelledError:
                cancel.set()
                raise
            except Exception as err:  # isolate a failure to its request
                log.exception("the edit failed")
                result = EditResult(
                    Status.ERROR, f"internal error: {err}", request.start, request.end
                )
            if cancel.is_set() and result.status is not Status.CANCELLED:
                # Cancelled after the model finished: the client no longer wants the result.
                result = EditResult(Status.CANCELLED, "cancelled", request.start, request.end)
            # Completions come with every keystroke: their outcome goes to the log file only.
            level = logging.DEBUG if supersede_running else logging.INFO
            log.log(level, "%s %s: %s", request.intent.value, od.uri, _summary(result))
            return result
        finally:
            if progress is not None:
                progress.end(_summary(result))
            if preview is not None:
                preview.done(result)
            self.protocol.cancellations.release(msg_id)

    def _edit_job(
        self,
        od: OpenDocument,
        lang: syntax.LanguageSpec,
        request: EditRequest,
        cancel: threading.Event,
        progress: WorkProgress | None,
        preview: PreviewStream | None,
    ) -> Callable[[], EditResult]:
        options = self.settings.edit_options()

        def on_step(text: str, step: Any) -> None:
            self.call_on_loop(_stepped, progress, preview, text, step.index, step.masked)

        def run() -> EditResult:  # on the worker thread
            infiller = self.infiller
            if infiller is None:
                why = self.model_problem or "the model is still loading"
                return EditResult(Status.ERROR, why, request.start, request.end)
            if preview is not None:
                try:
                    span = engine.resolve_span(od.doc, lang, request, options)
                except engine.EditFailure:
                    pass  # engine.edit reports the same failure
                else:
                    self.call_on_loop(preview.begin, *span)
            watch = on_step if progress is not None or preview is not None else None
            return engine.edit(od.doc, lang, request, infiller, options, watch, cancel)

        return run

    async def apply(self, od: OpenDocument, result: EditResult, label: str) -> dict[str, Any]:
        """Send a changed result to the client with workspace/applyEdit, unless the document
        moved on meanwhile; the command's `{applied, reason?}` summary."""
        if not result.changed:
            return _refused(result.reason or result.status.value)
        now = self.documents.get(od.uri)
        if now is None:
            return _refused("document closed")
        if now is not od:  # every change replaces the OpenDocument
            return _refused("document changed")
        if not self.client_has("workspace.apply_edit"):
            return _refused("the client cannot apply edits (no workspace.applyEdit)")
        edit = protocol.workspace_edit(
            od.uri, od.version, od.doc, result.edits, self.encoding, versioned=self.versioned_edits
        )
        try:
            answer = await self.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except Exception as err:
            return _refused(f"the client did not apply the edit: {err}")
        if answer.applied:
            return {"applied": True}
        return _refused(answer.failure_reason or "the client did not apply the edit")

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


def _summary(result: EditResult | None) -> str:
    if result is None:
        return "cancelled"
    if result.changed:
        return f"done in {result.steps} steps"
    status, reason = result.status.value, result.reason
    return f"{status}: {reason}" if reason and reason != status else status


def _refused(reason: str) -> dict[str, Any]:
    return {"applied": False, "reason": reason}


def _edit_target(value: object, what: str) -> EditTarget:
    try:
        return protocol.edit_target(value, what)
    except ValueError as err:
        raise JsonRpcInvalidParams(str(err)) from None


# -- the handlers ----------------------------------------------------------------------------


def build_server(
    model: Infiller | Loader, *, settings: Settings | None = None, name: str = "diffill"
) -> DiffillServer:
    """A diffill Language Server driving `model`: an `Infiller` (or anything with its
    `infill`), or a loader called as `loader(folder, device=...)` on the worker thread
    after `initialized` and again when the model settings change."""
    server = DiffillServer(model, settings, name)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.loop = asyncio.get_running_loop()
        server.encoding = protocol.encoding_of(server.workspace.position_encoding)
        section = protocol.settings_section(params.initialization_options, bare=True)
        server.settings, server._pending_problems = protocol.parse_settings(
            section, server.settings, server.defaults
        )

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        for problem in server._pending_problems:
            server.show(types.MessageType.Warning, f"diffill: {problem}")
        server._pending_problems = []
        await server.pull_settings()
        server.load_model()
        server.send_status()

    @server.feature(types.SHUTDOWN)
    def shutdown(params: None) -> None:
        server.worker.cancel_all()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        od = server.open(params.text_document)
        server.schedule_diagnostics(od.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        od = server.change(params)
        server.schedule_diagnostics(od.uri, server.settings.diagnostics_delay_ms)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.close(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        # Pushed settings apply before the next message is handled, so a request sent
        # after the notification sees them.
        section = protocol.settings_section(params.settings, bare=False)
        if section is not None:
            server.apply_settings(section)
        else:  # the pull model: the notification only says "ask again"
            pull = asyncio.ensure_future(server.pull_settings())
            server.pulls.add(pull)  # asyncio keeps only weak references to tasks
            pull.add_done_callback(server.pulls.discard)

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(params: types.WorkDoneProgressCancelParams) -> None:
        server.protocol.cancellations.cancel_token(params.token)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=protocol.CODE_ACTION_KINDS, resolve_provider=True
        ),
    )
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        od = server.document(params.text_document.uri)
        start, end = server.offsets(od, params.range)
        found = server.analysis(od)
        if found is None:
            return None
        return _list_actions(server, od, found, start, end, params.context)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(action: types.CodeAction) -> types.CodeAction:
        target = _edit_target(action.data, "code action data")
        if target.intent is None or target.version is None:
            raise JsonRpcInvalidParams("code action data needs 'intent' and 'version'")
        od = server.document(target.uri)
        if od.version != target.version:
            raise JsonRpcContentModified("the document changed since the action was listed")
        start, end = server.offsets(od, target.range)
        request = EditRequest(target.intent, start, end, target.strength)
        result = await server.compute(
            od,
            request,
            title=f"diffill: {action.title}",
            token=None,
            create_progress=True,
            key=(request, od.uri),
        )
        if result.status is Status.CANCELLED:
            raise JsonRpcRequestCancelled(result.reason)
        if result.status in (Status.ERROR, Status.UNSUPPORTED):
            raise RequestFailed(result.reason)
        if not result.changed:
            # Nothing to apply; the client would apply nothing silently, so say why.
            server.show(types.MessageType.Info, f"diffill: {result.reason}")
            return action
        if server.documents.get(od.uri) is not od:
            raise JsonRpcContentModified("the document changed while the model ran")
        action.edit = protocol.workspace_edit(
            od.uri,
            od.version,
            od.doc,
            result.edits,
            server.encoding,
            versioned=server.versioned_edits,
        )
        return action

    for command, intent in protocol.COMMAND_INTENTS.items():
        server.command(command)(_command_handler(intent))

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> list[types.InlineCompletionItem] | None:
        if not server.settings.inline_completion:
            return None
        od = server.document(params.text_document.uri)
        cursor, _ = server.offsets(od, types.Range(start=params.position, end=params.position))
        result = await server.compute(
            od,
            _completion_request(server, od, cursor),
            title="diffill: completing",
            token=params.work_done_token,
            create_progress=False,
            key=("inline completion", od.uri),
            supersede_running=True,
        )
        if server.documents.get(od.uri) is not od:
            return []  # typed past it: the newer request has the answer
        return protocol.inline_items(od.doc, result, cursor, server.encoding)

    return server


def _command_handler(intent: Intent) -> Callable[..., Any]:
    # pygls passes the server to a handler whose first parameter is called `ls`, and the
    # command's arguments, unconverted, to `*arguments`.
    async def run(ls: DiffillServer, *arguments: object) -> dict[str, Any]:
        if len(arguments) != 1:
            raise JsonRpcInvalidParams(
                f"diffill.{intent.value} takes one argument {{uri, range, strength?}}, "
                f"not {len(arguments)}"
            )
        target = _edit_target(arguments[0], "argument")
        od = ls.document(target.uri)
        start, end = ls.offsets(od, target.range)
        request = EditRequest(intent, start, end, target.strength)
        result = await ls.compute(
            od,
            request,
            title=f"diffill: {intent.value}",
            token=ls.protocol.command_token.get(),
            create_progress=True,
            key=(request, od.uri),
        )
        if result.status is Status.CANCELLED:
            return _refused(result.reason or "cancelled")
        return await ls.apply(od, result, f"diffill: {intent.value}")

    return run


def _completion_request(server: DiffillServer, od: OpenDocument, cursor: int) -> EditRequest:
    """Complete at the cursor; on a one-line placeholder, fill it instead (the inline item
    then replaces the placeholder)."""
    found = server.analysis(od)
    if found is not None:
        hit = found.placeholders_in(cursor, cursor)
        if hit:
            start = od.doc.offset_from_byte(hit[0].start)
            end = od.doc.offset_from_byte(hit[0].end)
            if "\n" not in od.doc.text[start:end] and "\r" not in od.doc.text[start:end]:
                return EditRequest(Intent.FILL, start, end)
    return EditRequest(Intent.COMPLETE, cursor, cursor)


def _list_actions(
    server: DiffillServer,
    od: OpenDocument,
    found: Analysis,
    start: int,
    end: int,
    context: types.CodeActionContext,
) -> list[types.CodeAction]:
    """The actions for a range, from the parse alone: the model runs on resolve."""
    doc, enc, only = od.doc, server.encoding, context.only
    resolvable = server.resolvable_edits
    actions: list[types.CodeAction] = []

    def target(intent: Intent, a: int, b: int) -> EditTarget:
        return EditTarget(
            od.uri, protocol.lsp_range(doc, a, b, enc), intent=intent, version=od.version
        )

    if protocol.wanted(types.CodeActionKind.QuickFix, only):
        theirs = [d for d in context.diagnostics if d.source == protocol.DIAGNOSTIC_SOURCE]
        for issue in found.issues:
            a, b = protocol.issue_offsets(doc, issue)
            if not (a <= end and start <= b):
                continue
            mine = protocol.diagnostic(doc, issue, enc)
            # Attach the client's copy when it has one: clients match diagnostics by value.
            same = [d for d in theirs if d.range == mine.range]
            actions.append(
                protocol.code_action(
                    target(Intent.FIX, a, b), same or [mine], resolvable=resolvable
                )
            )
    if protocol.wanted(types.CodeActionKind.RefactorRewrite, only):
        hit = found.placeholders_in(start, end)
        if hit:
            a = doc.offset_from_byte(min(p.start for p in hit))
            b = doc.offset_from_byte(max(p.end for p in hit))
            actions.append(protocol.code_action(target(Intent.FILL, a, b), resolvable=resolvable))
        if start < end and doc.text[start:end].strip():
            actions.append(
                protocol.code_action(target(Intent.REWRITE, start, end), resolvable=resolvable)
            )
    return actions


# -- running ---------------------------------------------------------------------------------


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


__all__ = [
    "PREVIEW",
    "STATUS",
    "DiffillServer",
    "Settings",
    "build_server",
    "serve",
]
