"""pygls' LSP protocol where its defaults do not fit diffill (see `DiffillProtocol`)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import inspect
import json
import logging
import uuid
from collections.abc import Callable, Generator
from concurrent.futures import Future, InvalidStateError
from typing import Any

from cattrs import transform_error
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from .cancellation import Cancellations, MsgId
from .framing import Garbage, Message, Reply
from .validation import Invalid, check_params, check_result

log = logging.getLogger("diffill.lsp")

_ANSWERED = object()  # a malformed request that already got its error response
# How long the server waits for the client to answer one of its own requests
# (workspace/applyEdit, workspace/configuration, window/workDoneProgress/create).
CLIENT_TIMEOUT_S = 10.0


class Lifecycle(enum.Enum):
    NEW = "new"  # only initialize (and exit) is accepted
    RUNNING = "running"  # initialize was received
    SHUT_DOWN = "shut down"  # only exit is accepted


class ClientDidNotAnswer(JsonRpcException):
    """The client's answer to a server request never came, or was not what LSP says."""


class DiffillProtocol(LanguageServerProtocol):
    """pygls' LSP protocol with these changes:

    - messages come in through `handle_frame`, from the transport's `framing.FrameReader`
      and `framing.decode`: an envelope that is not JSON-RPC 2.0 was answered there; here
      the lifecycle is enforced (ServerNotInitialized before `initialize`, InvalidRequest
      for a second `initialize` and for requests after `shutdown`), params are checked by
      `validation` before cattrs sees them (InvalidParams naming the bad field, never
      silence), and a client's answer to a server request that has the wrong type fails
      that request instead of being dropped;
    - every server request waits at most `client_timeout_s` for its answer;
    - `shutdown` cancels what runs and enters the shut-down state; `exit` hands its exit
      code (0 after shutdown, 1 without) to the transport instead of `sys.exit`;
    - document sync bypasses pygls' workspace, whose didChange clamps the client's ranges
      in place with `str.splitlines` (diffill's `Documents` owns the text);
    - output is strict JSON (no NaN), and a broken pipe ends the session;
    - utf-8 positions whenever the client offers them (pygls takes the client's first
      preference, usually utf-16, which costs a conversion on every position);
    - `$/cancelRequest` also sets the request's cancellation event, which stops the model
      within one step (pygls can only cancel the awaiting task, not the worker thread);
    - the work-done token of `workspace/executeCommand` is made visible to the command.
    """

    def __init__(self, server: LanguageServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.cancellations = Cancellations()
        self.command_token: contextvars.ContextVar[types.ProgressToken | None] = (
            contextvars.ContextVar("command_token", default=None)
        )
        self.lifecycle = Lifecycle.NEW
        self.client_timeout_s = CLIENT_TIMEOUT_S
        self.on_exit: Callable[[int], None] | None = None  # set by the transport
        # Called as each request arrives, before its handler is scheduled (the server
        # records the documents it is about: `documents.ARRIVAL`).
        self.on_request: Callable[[], None] | None = None
        self._methods: dict[MsgId, str] = {}  # server requests awaiting an answer
        self._writes: set[asyncio.Future] = set()  # writes of an async writer in flight

    # -- incoming ----------------------------------------------------------------------------

    def handle_frame(self, item: Message | Reply | Garbage) -> None:
        """One item from the transport (on the event loop)."""
        if isinstance(item, Garbage):
            log.warning("protocol: %s", item.reason)
            return
        if isinstance(item, Reply):
            log.warning("protocol: %s", item.message)
            self._send_error(item.id, item.code, item.message)
            return
        data = item.data
        if item.is_response:
            self._client_answer(data)
            return
        method: str = data["method"]
        msg_id = data.get("id")
        is_request = "id" in data
        refusal = self._lifecycle_refusal(method, is_request)
        if refusal is None and is_request and _is_notification(method):
            refusal = JsonRpcInvalidRequest(f"{method} is a notification: it takes no id")
        if refusal is not None:
            if is_request:
                self._send_error(msg_id, refusal.code, refusal.message)
            else:
                log.debug("ignored %s: %s", method, refusal.message)
            return
        try:
            check_params(method, data.get("params"))
        except Invalid as err:
            if is_request:
                self._send_error(
                    msg_id, JsonRpcInvalidParams.CODE, f"invalid params for {method}: {err}"
                )
            else:
                log.warning("ignored %s: invalid params: %s", method, err)
            return
        try:
            message = self.structure_message(data)
        except JsonRpcException as err:  # a notification cattrs cannot structure
            log.warning("ignored %s: %s", method, err.message or err)
            return
        if method == types.INITIALIZE:
            self.lifecycle = Lifecycle.RUNNING
        if is_request and self.on_request is not None:
            self.on_request()
        self.handle_message(message)

    def _lifecycle_refusal(self, method: str, is_request: bool) -> JsonRpcException | None:
        if method == types.EXIT:
            return None
        if self.lifecycle is Lifecycle.NEW:
            if method == types.INITIALIZE and is_request:
                return None
            return JsonRpcServerNotInitialized(
                f"the server is not initialized yet: initialize comes first (got {method})"
            )
        if method == types.INITIALIZE:
            return JsonRpcInvalidRequest(
                "the server is already initialized: initialize is sent once"
            )
        if self.lifecycle is Lifecycle.SHUT_DOWN:
            return JsonRpcInvalidRequest(
                f"the server is shut down: after shutdown only exit is accepted (got {method})"
            )
        return None

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

    def _client_answer(self, data: dict[str, Any]) -> None:
        """A client's answer to one of the server's requests: routed to its future, as a
        failure when it is an error or not of the type LSP gives the answer."""
        msg_id = data["id"]
        future = self._request_futures.pop(msg_id, None) if msg_id is not None else None
        method = self._methods.pop(msg_id, "") if msg_id is not None else ""
        result_type = self._result_types.pop(msg_id, None) if msg_id is not None else None
        if future is None:
            log.info("protocol: an answer to no request of the server (id %r)", msg_id)
            return
        outcome: Any
        if "error" in data:
            error = data["error"]
            outcome = ClientDidNotAnswer(
                f"the client answered {method} with an error: {error.get('message', '')}"[:500],
                code=error.get("code"),
            )
        else:
            try:
                check_result(method, data.get("result"))
                structured = self._converter.structure(data, result_type) if result_type else None
                outcome = structured.result if structured is not None else data.get("result")
            except Exception as err:  # Invalid, or what cattrs raises
                detail = err if isinstance(err, Invalid) else _validation_detail(err)
                outcome = ClientDidNotAnswer(
                    f"the client's answer to {method} is malformed: {detail}"
                )
        with contextlib.suppress(InvalidStateError):  # cancelled meanwhile (shutdown)
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    # -- server requests -----------------------------------------------------------------------

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Callable[[Any], None] | None = None,
        msg_id: MsgId | None = None,
    ) -> Future[Any]:
        msg_id = msg_id if msg_id is not None else str(uuid.uuid4())
        self._methods[msg_id] = method
        return super().send_request(method, params, callback, msg_id)

    def send_request_async(self, method: str, params: Any | None = None, msg_id: Any = None) -> Any:
        """The answer to a server request, waited for at most `client_timeout_s`."""
        msg_id = msg_id if msg_id is not None else str(uuid.uuid4())
        future = self.send_request(method, params, msg_id=msg_id)
        return asyncio.ensure_future(self._answer(method, msg_id, future))

    async def _answer(self, method: str, msg_id: MsgId, future: Future[Any]) -> Any:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.client_timeout_s)
        except asyncio.TimeoutError:
            self._request_futures.pop(msg_id, None)
            self._result_types.pop(msg_id, None)
            self._methods.pop(msg_id, None)
            raise ClientDidNotAnswer(
                f"the client did not answer {method} within {self.client_timeout_s:g} s"
            ) from None

    # -- lifecycle -----------------------------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        general = params.capabilities.general
        offered = list(general.position_encodings or []) if general else []
        if general is not None and types.PositionEncodingKind.Utf8 in offered:
            offered.remove(types.PositionEncodingKind.Utf8)
            general.position_encodings = [types.PositionEncodingKind.Utf8, *offered]
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        # A copy: cancelling runs callbacks that change the table.
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        self.lifecycle = Lifecycle.SHUT_DOWN
        return None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        code = 0 if self.lifecycle is Lifecycle.SHUT_DOWN else 1
        if self.on_exit is not None:
            self.on_exit(code)

    # -- document sync: diffill's Documents alone hold the text ---------------------------------

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield user_handler, (params,), None

    # -- commands and cancellation -------------------------------------------------------------

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        # The command handler runs in a copy of this context, so it sees the token.
        self.command_token.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))

    def _handle_cancel_notification(self, msg_id: MsgId) -> None:
        self.cancellations.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)

    # -- outgoing ------------------------------------------------------------------------------

    def _send_error(self, msg_id: MsgId | None, code: int, message: str) -> None:
        if msg_id is None:  # JSON-RPC wants the null id spelled out; lsprotocol omits it
            error = {"code": code, "message": message}
            self._send_data({"jsonrpc": "2.0", "id": None, "error": error})
            return
        self._send_response(msg_id, error=types.ResponseError(code=code, message=message))

    def _send_data(self, data: Any) -> None:
        if not data or self.writer is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message, allow_nan=False)
        except (TypeError, ValueError) as err:
            log.error("an answer that is not JSON was not sent: %s", err)
            msg_id = getattr(data, "id", None)
            if msg_id is not None and getattr(data, "error", None) is None:
                failed = JsonRpcInternalError("the answer could not be written as JSON")
                self._send_response(msg_id, error=failed.to_response_error())
            return
        # ensure_ascii (json's default) makes the body ASCII: characters are bytes.
        header = f"Content-Length: {len(body)}\r\n\r\n"
        try:
            result = self.writer.write((header + body).encode("ascii"))
            if inspect.isawaitable(result):
                self._writes.add(pending := asyncio.ensure_future(result))
                pending.add_done_callback(self._writes.discard)
        except OSError as err:  # the client went away: nobody is left to answer
            log.error("the connection to the client is lost: %s", err)
            if self.on_exit is not None:
                self.on_exit(1)


def _is_notification(method: str) -> bool:
    """A method LSP defines as a notification (sent as a request, it would never be
    answered: pygls handles it as the notification)."""
    entry = types.METHOD_TO_TYPES.get(method)
    return entry is not None and entry[1] is None


def _validation_detail(error: BaseException | None) -> str:
    """What cattrs found wrong, one line per field ("missing required field @ $.range")."""
    if error is None:
        return ""
    try:
        return "; ".join(transform_error(error))
    except Exception:
        return str(error)
