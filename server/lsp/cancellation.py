"""Which `threading.Event` stops which request's denoising: found by request id
(`$/cancelRequest`) or by progress token (`window/workDoneProgress/cancel`)."""

from __future__ import annotations

import threading
from collections import deque

from lsprotocol import types

MsgId = int | str
# Request ids cancelled before their handler registered (the notification can overtake the
# handler's first step); a short memory is enough since handlers start right away.
_EARLY_CANCELS = 64


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
        if msg_id is not None:
            self._by_request.pop(msg_id, None)
        if token is not None:
            self._by_token.pop(token, None)
