"""pygls' LSP protocol where its defaults do not fit diffill (see `DiffillProtocol`)."""

from __future__ import annotations

import contextvars
from collections.abc import Generator
from typing import Any

from cattrs import transform_error
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from .cancellation import Cancellations, MsgId

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

    def __init__(self, server: LanguageServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.cancellations = Cancellations()
        self.command_token: contextvars.ContextVar[types.ProgressToken | None] = (
            contextvars.ContextVar("command_token", default=None)
        )

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
        return "; ".join(transform_error(error))
    except Exception:
        return str(error)
