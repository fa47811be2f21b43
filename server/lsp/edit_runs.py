"""One edit run on the model worker, what `codeAction/resolve`, the commands and inline
completion share: the request goes to the worker (queued work with the same key is
superseded, and running work too for completions), with work-done progress, the
`diffill/preview` stream and cancellation by `$/cancelRequest`, by
`window/workDoneProgress/cancel` or by newer work. A command's result then goes to the
client with `workspace/applyEdit`, unless the document moved on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from ..editing import engine
from ..editing.parsed import ParsedDocument
from ..editing.request import EditFailure, EditRequest, EditResult, Intent, Status
from ..editing.targets import target_span
from .conversions import EditTarget, workspace_edit
from .documents import OpenDocument, Stale
from .progress import PreviewStream, WorkProgress
from .worker import Superseded

if TYPE_CHECKING:
    from pygls.progress import Progress

    from diffill.model import Backend

    from ..document import Encoding
    from .documents import Documents
    from .pygls_protocol import DiffillProtocol
    from .settings import Settings
    from .warming import ContextWarmer
    from .worker import ModelWorker

log = logging.getLogger("diffill.lsp")


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be carried out."""

    CODE = -32803
    MESSAGE = "Request failed"


class Host(Protocol):
    """What an edit run uses of its server (the server module imports this one)."""

    backend: Backend | None
    model_problem: str
    settings: Settings
    documents: Documents
    worker: ModelWorker
    warmer: ContextWarmer
    encoding: Encoding
    protocol: DiffillProtocol

    @property
    def client_preview(self) -> bool: ...

    @property
    def client_progress(self) -> bool: ...

    @property
    def versioned_edits(self) -> bool: ...

    @property
    def work_done_progress(self) -> Progress: ...

    def client_has(self, path: str) -> bool: ...

    def call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def document(self, uri: str) -> OpenDocument: ...

    def offsets(self, od: OpenDocument, rng: types.Range) -> tuple[int, int]: ...

    def tell(self, od: OpenDocument, parse_problem: str = "") -> None: ...

    async def workspace_apply_edit_async(
        self, params: types.ApplyWorkspaceEditParams
    ) -> types.ApplyWorkspaceEditResult: ...


def lost_reason(od: OpenDocument) -> str:
    return f"diffill lost track of this document ({od.lost}): close and reopen it"


class EditRuns:
    """The edit runs of a server: each on the worker, one at a time, in arrival order."""

    def __init__(self, server: Host) -> None:
        self.server = server

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
        server = self.server
        od = server.document(target.uri)
        if od.lost:
            return od, EditResult(Status.ERROR, lost_reason(od))
        start, end = server.offsets(od, target.range)
        request = EditRequest(intent, start, end, target.strength)
        result = await self.compute(
            od,
            request,
            title=title,
            token=token,
            create_progress=not server.client_progress,
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
        server = self.server
        if order is None:
            order = server.worker.ticket()
        try:
            parsed = await server.documents.parsed(od)
        except Stale:
            return EditResult(Status.CANCELLED, "the document changed", request.start, request.end)
        if isinstance(parsed, str):
            if od.lost:
                return EditResult(Status.ERROR, lost_reason(od), request.start, request.end)
            server.tell(od, parsed if od.text_known and od.lang is not None else "")
            return EditResult(Status.UNSUPPORTED, parsed, request.start, request.end)
        msg_id = server.protocol.msg_id
        cancellations = server.protocol.cancellations
        cancel = cancellations.for_request(msg_id)
        progress = preview = None
        result: EditResult | None = None
        try:
            progress = await WorkProgress.begin(
                server.work_done_progress,
                cancellations,
                token,
                title,
                cancel,
                steps=progress_total(server.settings),
                create=create_progress and server.client_has("window.work_done_progress"),
            )
            if server.client_preview or server.settings.preview:
                preview = PreviewStream(
                    server.protocol.notify, od, server.encoding, progress_total(server.settings)
                )
            server.warmer.yield_to_request()
            job = server.worker.submit(
                # Its own copy of the tree: tree-sitter trees are not shared across threads.
                self._job(parsed.copy(), request, cancel, progress, preview),
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

    def _job(
        self,
        parsed: ParsedDocument,
        request: EditRequest,
        cancel: threading.Event,
        progress: WorkProgress | None,
        preview: PreviewStream | None,
    ) -> Callable[[], EditResult]:
        server = self.server
        options = server.settings.edit_options()

        def on_step(text: str, step: Any) -> None:
            server.call_on_loop(_stepped, progress, preview, text, step.index, step.masked)

        def on_phase(phase: str) -> None:
            server.call_on_loop(_phased, progress, preview, phase)

        def run() -> EditResult:  # on the worker thread
            backend = server.backend
            if backend is None:
                why = server.model_problem or "the model is still loading"
                return EditResult(Status.ERROR, why, request.start, request.end)
            try:
                span = target_span(parsed, request, options.snap)
                if preview is not None:
                    server.call_on_loop(preview.begin, *span)
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
        server = self.server
        if not result.changed:
            return refused(result.reason or result.status.value)
        now = server.documents.get(od.uri)
        if now is None:
            return refused("document closed")
        if now is not od:  # every change replaces the OpenDocument
            return refused("document changed")
        if not server.client_has("workspace.apply_edit"):
            return refused("the client cannot apply edits (no workspace.applyEdit)")
        edit = workspace_edit(
            od.uri,
            od.version,
            od.doc,
            result.edits,
            server.encoding,
            versioned=server.versioned_edits,
        )
        try:
            answer = await server.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except Exception as err:
            return refused(f"the client did not apply the edit: {err}")
        if answer.applied:
            return {"applied": True}
        return refused(answer.failure_reason or "the client did not apply the edit")


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
