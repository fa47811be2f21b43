"""`build_server`: a `DiffillServer` with its LSP handlers registered. Each handler is thin:
fetch the document, call the server or a domain function, convert the result.

What it offers (DESIGN.md, "LSP surface"):
- `textDocument/codeAction` lists "Rewrite selection", "Fill placeholder" (both
  `refactor.rewrite`) and "Repair syntax error" (`quickfix`, attached to its diagnostic)
  from the document's parse alone; `codeAction/resolve` runs the model and fills in the edit.
- `workspace/executeCommand` `diffill.server.fill|rewrite|fix` with one argument
  `{uri, range, strength?}`: runs the engine, applies the result with `workspace/applyEdit`
  as a `TextDocumentEdit` on the version it was computed from, returns `{applied, reason?}`.
- `textDocument/inlineCompletion`: completion at the cursor (a fill when the cursor is on a
  one-line placeholder, which the item's range then replaces); a newer request for the same
  document cancels the older one.
- syntax-error diagnostics (source "diffill"), debounced after changes.
- work-done progress per denoising step, `diffill/preview` notifications with the
  intermediate text, `diffill/status` with the model, device and whether it is busy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams, JsonRpcRequestCancelled

from diffill.model import Backend, load

from ..editing.parsed import ParsedDocument
from ..editing.request import Intent, Status
from ..editing.targets import completion_request, fill_span
from . import conversions
from .conversions import EditTarget
from .documents import OpenDocument, Stale
from .edit_runs import RequestFailed, lost_reason, refused
from .model_loading import Loader
from .server import DiffillServer
from .settings import Settings, parse_settings, settings_section


def build_server(
    backend: Backend | None = None,
    *,
    loader: Loader = load,
    settings: Settings | None = None,
    name: str = "diffill",
    client_timeout_s: float | None = None,
) -> DiffillServer:
    """A diffill Language Server driving `backend`, or, without one, the model `loader`
    loads (called as `loader(folder, device=..., dtype=..., context_cache_entries=...)` on
    the worker thread after `initialized` and again when the model settings change).
    `client_timeout_s`: how long to wait for the client's answers to the server's own
    requests."""
    server = DiffillServer(backend, loader, settings, name, client_timeout_s)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.loop = asyncio.get_running_loop()
        server.encoding = conversions.encoding_of(server.workspace.position_encoding)
        section = settings_section(params.initialization_options, bare=True)
        server.settings, server.pending_problems = parse_settings(
            section, server.settings, server.defaults
        )

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        for problem in server.pending_problems:
            server.show(types.MessageType.Warning, f"diffill: {problem}")
        server.pending_problems = []
        await server.pull_settings()
        server.models.load()
        server.send_status()

    @server.feature(types.SHUTDOWN)
    def shutdown(params: None) -> None:
        server.worker.cancel_all()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        server.open(params.text_document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        server.change(params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.close(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        # Pushed settings apply before the next message is handled, so a request sent
        # after the notification sees them.
        section = settings_section(params.settings, bare=False)
        if section is not None:
            server.apply_settings(section)
        else:  # the pull model: the notification only says "ask again"
            server.spawn(server.pull_settings())

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(params: types.WorkDoneProgressCancelParams) -> None:
        server.protocol.cancellations.cancel_token(params.token)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=conversions.CODE_ACTION_KINDS, resolve_provider=True
        ),
    )
    async def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
        od = server.document(params.text_document.uri)
        if not od.text_known or od.lang is None:
            return []  # lost, too large or no grammar: said once when it happened
        start, end = server.offsets(od, params.range)
        try:
            parsed = await server.documents.parsed(od)
        except Stale:
            raise JsonRpcContentModified(
                "the document changed while its actions were listed"
            ) from None
        if isinstance(parsed, str):
            server.tell(od, parsed)
            return []
        return _list_actions(server, od, parsed, start, end, params.context)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(action: types.CodeAction) -> types.CodeAction:
        target = _edit_target(action.data, "code action data")
        if target.intent is None or target.version is None:
            raise JsonRpcInvalidParams("code action data needs 'intent' and 'version'")
        listed = server.document(target.uri)
        if listed.lost:
            raise RequestFailed(lost_reason(listed))
        if listed.version != target.version:
            raise JsonRpcContentModified("the document changed since the action was listed")
        od, result = await server.edit_runs.edit(
            target, target.intent, title=f"diffill: {action.title}", token=None
        )
        if result.status is Status.CANCELLED:
            raise JsonRpcRequestCancelled(result.reason)
        if result.status in (Status.ERROR, Status.UNSUPPORTED):
            raise RequestFailed(result.reason)
        if not result.changed:
            # Nothing to apply; the client would apply nothing silently, so say why.
            if result.status is Status.REJECTED and result.edits:
                server.show(
                    types.MessageType.Info, f"diffill: {result.reason}, so it was not applied."
                )
                action.data = {**(action.data or {}), "rejected": _rejected(server, od, result)}
            else:
                server.show(types.MessageType.Info, f"diffill: {result.reason}.")
            return action
        if server.documents.get(od.uri) is not od:
            raise JsonRpcContentModified("the document changed while the model ran")
        action.edit = conversions.workspace_edit(
            od.uri,
            od.version,
            od.doc,
            result.edits,
            server.encoding,
            versioned=server.versioned_edits,
        )
        return action

    for command, intent in conversions.COMMAND_INTENTS.items():
        server.command(command)(_command_handler(command, intent))

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        params: types.InlineCompletionParams,
    ) -> list[types.InlineCompletionItem] | None:
        if not server.settings.inline_completion:
            return None
        od = server.document(params.text_document.uri)
        if not od.text_known or od.lang is None:
            return []
        cursor, _ = server.offsets(od, types.Range(start=params.position, end=params.position))
        order = server.worker.ticket()  # it arrived now: newer than any request before it
        try:
            parsed = await server.documents.parsed(od)
        except Stale:
            return []  # typed past it: the newer request has the answer
        result = await server.edit_runs.compute(
            od,
            completion_request(parsed, cursor),
            title="diffill: completing",
            token=params.work_done_token,
            create_progress=False,
            key=("inline completion", od.uri),
            supersede_running=True,
            order=order,
        )
        if server.documents.get(od.uri) is not od:
            return []  # typed past it: the newer request has the answer
        return conversions.inline_items(od.doc, result, cursor, server.encoding)

    return server


def _command_handler(command: str, intent: Intent) -> Callable[..., Any]:
    # pygls passes the server to a handler whose first parameter is called `ls`, and the
    # command's arguments, unconverted, to `*arguments`.
    async def run(ls: DiffillServer, *arguments: object) -> dict[str, Any]:
        if len(arguments) != 1:
            raise JsonRpcInvalidParams(
                f"{command} takes one argument {{uri, range, strength?}}, not {len(arguments)}"
            )
        target = _edit_target(arguments[0], "argument")
        label = f"diffill: {intent.value}"
        od, result = await ls.edit_runs.edit(
            target, intent, title=label, token=ls.protocol.command_token.get()
        )
        if result.status is Status.CANCELLED:
            return refused(result.reason or "cancelled")
        return await ls.edit_runs.apply(od, result, label)

    return run


def _edit_target(value: object, what: str) -> EditTarget:
    """A command's argument or a code action's data; InvalidParams saying what is wrong."""
    try:
        return conversions.edit_target(value, what)
    except ValueError as err:
        raise JsonRpcInvalidParams(str(err)) from None


def _rejected(server: DiffillServer, od: OpenDocument, result: Any) -> dict[str, Any]:
    """A proposal the engine did not apply (it adds a syntax error), in the resolved
    action's data for clients that show it for the user to judge: why, and its edits."""
    edits = conversions.text_edits(od.doc, result.edits, server.encoding)
    return {
        "reason": result.reason,
        "version": od.version,
        "edits": [
            {
                "range": conversions.target_json(conversions.EditTarget(od.uri, e.range))["range"],
                "newText": e.new_text,
            }
            for e in edits
        ],
    }


def _list_actions(
    server: DiffillServer,
    od: OpenDocument,
    parsed: ParsedDocument,
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
            od.uri, conversions.lsp_range(doc, a, b, enc), intent=intent, version=od.version
        )

    if conversions.wanted(types.CodeActionKind.QuickFix, only):
        theirs = [d for d in context.diagnostics if d.source == conversions.DIAGNOSTIC_SOURCE]
        for issue in parsed.issues:
            a, b = conversions.issue_offsets(doc, issue)
            if not (a <= end and start <= b):
                continue
            mine = conversions.diagnostic(doc, issue, enc)
            # Attach the client's copy when it has one: clients match diagnostics by value.
            same = [d for d in theirs if d.range == mine.range]
            actions.append(
                conversions.code_action(
                    target(Intent.FIX, a, b), same or [mine], resolvable=resolvable
                )
            )
    if conversions.wanted(types.CodeActionKind.RefactorRewrite, only):
        span = fill_span(parsed, start, end)
        if span is not None:
            action = conversions.code_action(target(Intent.FILL, *span), resolvable=resolvable)
            actions.append(action)
        if start < end and doc.text[start:end].strip():
            actions.append(
                conversions.code_action(target(Intent.REWRITE, start, end), resolvable=resolvable)
            )
    return actions
