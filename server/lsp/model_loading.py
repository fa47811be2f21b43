"""The model the settings name, over a session: loaded on the model worker after
`initialized` and again whenever the settings that shape it change (behind the work queued
before, so no request runs on a half-loaded model); a folder that does not load keeps the
old model and says why; a loaded model pays its one-time costs before the first request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types

if TYPE_CHECKING:
    from diffill.model import Backend

    from .settings import Settings
    from .worker import ModelWorker

log = logging.getLogger("diffill.lsp")

# The settings that take a new load of the model: (folder, device, dtype, context cache
# entries).
ModelSettings = tuple[str | None, str, str, int]


class Loader(Protocol):
    """How the server loads the model its settings name (`diffill.model.load` fits)."""

    def __call__(
        self, folder: str | None, *, device: str, dtype: str, context_cache_entries: int
    ) -> Backend: ...


class Host(Protocol):
    """What the model's loading uses of its server (the server module imports this one)."""

    backend: Backend | None
    model_problem: str  # why the model named by the settings did not load
    settings: Settings
    worker: ModelWorker

    def call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def send_status(self) -> None: ...

    def show(self, kind: types.MessageType, message: str) -> None: ...


def model_settings(s: Settings) -> ModelSettings:
    """The settings that take a new load of the model when they change."""
    return (s.model, s.device, s.dtype, s.context_cache_entries)


class ModelLoading:
    """The loads of a server's model. loader: None when the model was given when the server
    was built (tests inject small ones): the model settings are then ignored."""

    def __init__(self, server: Host, loader: Loader | None) -> None:
        self.server = server
        self.loader = loader
        self._wanted: ModelSettings | None = None  # the last model settings asked for

    @property
    def loading(self) -> tuple[str, str] | None:
        """The model (name, device) being loaded while the server has none, else None."""
        server = self.server
        if server.backend is None and self.loader is not None and not server.model_problem:
            return (server.settings.model or "the shipped model", server.settings.device)
        return None

    def load(self) -> None:
        """(Re)load the model named by the settings, on the worker, after queued work."""
        server = self.server
        if self.loader is None:
            if server.settings.model is not None:
                log.info("the model was given when the server was built; diffill.model is ignored")
            return
        loader, wanted = self.loader, model_settings(server.settings)
        if self._wanted == wanted:
            return  # loaded, or its load is queued already
        self._wanted = wanted
        folder, device, dtype, entries = wanted

        def run() -> None:
            if self._wanted != wanted:
                return  # the settings changed again: a newer load is queued
            try:
                backend = loader(folder, device=device, dtype=dtype, context_cache_entries=entries)
            except Exception as err:  # a folder that does not load keeps the old model
                where = folder or "the shipped model"
                problem = f"cannot load the model ({where}, device {device}): {err}"
                log.error("%s", problem)
                server.call_on_loop(self._failed, problem)
                return
            server.backend = backend
            server.model_problem = ""
            log.info("model %s loaded on %s", backend.facts.name, backend.facts.device)
            server.call_on_loop(server.send_status)
            _warm_up(backend)

        server.worker.submit(run, cancel=threading.Event(), droppable=False)

    def _failed(self, problem: str) -> None:
        server = self.server
        server.model_problem = problem
        server.show(types.MessageType.Error, f"diffill: {problem}")
        server.send_status()


def _warm_up(backend: Backend) -> None:
    """Pay the model's one-time costs (compiling its step, or reading the compiled step from
    disk; first allocations) now, on the worker, before the first request."""
    try:
        backend.warm_up()
    except Exception as err:  # a model that cannot warm up still serves, only slower
        log.warning("warming up the model failed: %s", err)
