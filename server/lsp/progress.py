"""What the client sees while the model runs: work-done progress (begin, a report per
denoising step, end) and the `diffill/preview` notifications with the span's intermediate
text. Both are used on the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.progress import Progress

from ..document import Encoding
from ..editing.request import EditResult
from .cancellation import Cancellations
from .conversions import lsp_range, preview_params
from .documents import OpenDocument

log = logging.getLogger("diffill.lsp")

PREVIEW = "diffill/preview"


DENOISING = "denoising"


@dataclass
class WorkProgress:
    """Work-done progress for one model run: every phase is reported (denoising step by
    step, checking the result, each repair round and its steps), so the client never
    shows a stale "step 32" while the engine still works."""

    progress: Progress
    cancellations: Cancellations
    token: types.ProgressToken
    steps: int | None  # the most steps a denoising run takes (the preset's cap or `steps`)
    current: str = DENOISING

    @classmethod
    async def begin(
        cls,
        progress: Progress,
        cancellations: Cancellations,
        token: types.ProgressToken | None,
        title: str,
        cancel: threading.Event,
        *,
        steps: int | None,
        create: bool,
    ) -> WorkProgress | None:
        """Progress on the client's token, or on one the server creates when `create` is set
        (the caller checked that the client supports `window/workDoneProgress/create`);
        None otherwise."""
        if token is None:
            if not create:
                return None
            token = f"diffill-{uuid.uuid4()}"
            try:
                await progress.create_async(token)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a client that refuses only loses the progress bar
                log.info("no progress: the client refused a token: %s", err)
                progress.tokens.pop(token, None)
                return None
        cancellations.link_token(token, cancel)
        progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=title,
                cancellable=True,
                message="starting",
                percentage=0 if steps else None,
            ),
        )
        return cls(progress, cancellations, token, steps)

    def step(self, index: int, masked: int) -> None:
        of = f"/{self.steps}" if self.steps else ""
        denoising = self.current == DENOISING
        still = f", {masked} tokens still masked" if denoising else ""
        self.progress.report(
            self.token,
            types.WorkDoneProgressReport(
                message=f"{self.current}: step {index}{of}{still}",
                percentage=min(99, 100 * index // self.steps) if self.steps and denoising else None,
                cancellable=True,
            ),
        )

    def phase(self, phase: str) -> None:
        self.current = phase
        self.progress.report(
            self.token, types.WorkDoneProgressReport(message=phase, cancellable=True)
        )

    def end(self, message: str) -> None:
        self.progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.progress.tokens.pop(self.token, None)
        self.cancellations.release(None, self.token)


@dataclass
class PreviewStream:
    """`diffill/preview` notifications for one model run."""

    notify: Callable[[str, Any], None]
    od: OpenDocument
    encoding: Encoding
    steps: int | None
    range: types.Range | None = None  # set once the engine has chosen the span
    original: str = ""
    last_step: int = 0
    last_text: str = ""
    current: str = DENOISING

    def begin(self, start: int, end: int) -> None:
        self.range = lsp_range(self.od.doc, start, end, self.encoding)
        self.original = self.od.doc.text[start:end]

    def step(self, text: str, index: int) -> None:
        if self.range is not None:
            self.last_step, self.last_text = index, text
            self._send(text, index, self.steps, done=False)

    def phase(self, phase: str) -> None:
        """A new phase (checking the result, a repair round): said with the last text."""
        self.current = phase
        if self.range is not None:
            self._send(self.last_text, self.last_step, self.steps, done=False)

    def done(self, result: EditResult | None) -> None:
        """The last notification: the final text, or the original one when nothing
        changed (so a client drawing the preview can restore the span)."""
        if self.range is None:
            return
        text, steps = self.original, self.last_step
        if result is not None:
            text = result.replacement if result.changed else self.original
            steps = result.steps or self.last_step
        self.current = "done"
        self._send(text, steps, steps, done=True)

    def _send(self, text: str, step: int, steps: int | None, *, done: bool) -> None:
        assert self.range is not None
        self.notify(
            PREVIEW,
            preview_params(self.od.uri, self.range, text, step, steps, done, self.current),
        )
