"""The warm-up after typing (`server.lsp.warming`), on a stand-in server: it waits out the
quiet time, the next change replaces it, and a real request stops it on the worker."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from lsprotocol import types

from diffill.server.lsp.documents import Documents
from diffill.server.lsp.settings import Settings
from diffill.server.lsp.warming import ContextWarmer
from diffill.server.lsp.worker import ModelWorker

from .scripted_model import ScriptedInfiller

TEXT = "def area(r):\n    return 3.14 * r * r\n\nx = area(2)\n"


class Warmable(ScriptedInfiller):
    """Keeps contexts; a warm-up runs until it is cancelled when `hold` is set."""

    reuses_context = True

    def __init__(self, tokenizer: Any, hold: bool = False) -> None:
        super().__init__(tokenizer, [])
        self.hold = hold
        self.started = threading.Event()
        self.warmed: list[tuple[str, str]] = []
        self.stopped = 0  # warm-ups that saw their cancellation

    def warm_context(self, prefix: str, suffix: str, cancel: Any = None) -> int:
        self.warmed.append((prefix, suffix))
        self.started.set()
        if self.hold:
            assert cancel is not None
            if not cancel.wait(30):
                raise AssertionError("the warm-up was never cancelled")
            self.stopped += 1
            return 0
        return len(prefix)


def stand_in_server(backend: Warmable, delay_ms: int, **settings: Any) -> SimpleNamespace:
    server = SimpleNamespace(
        backend=backend,
        loop=asyncio.get_running_loop(),
        settings=Settings(warm_context_delay_ms=delay_ms, **settings),
        documents=Documents(),
        worker=ModelWorker(lambda busy: None),
        tasks=set(),
    )

    def spawn(work: Any) -> None:
        task = asyncio.ensure_future(work)
        server.tasks.add(task)
        task.add_done_callback(server.tasks.discard)

    server.spawn = spawn
    return server


def opened(server: SimpleNamespace, version: int = 1, uri: str = "file:///w/a.py") -> Any:
    item = types.TextDocumentItem(uri, "python", version, TEXT)
    return server.documents.open(item)


async def settle(server: SimpleNamespace) -> None:
    while server.tasks:
        await asyncio.gather(*list(server.tasks), return_exceptions=True)


async def test_the_context_at_the_cursor_is_warmed_once_typing_pauses(tokenizer):
    backend = Warmable(tokenizer)
    server = stand_in_server(backend, delay_ms=10)
    warmer = ContextWarmer(server)  # type: ignore[arg-type]
    od = opened(server)
    cursor = TEXT.index("3.14")
    warmer.schedule(od, cursor)
    warmer.schedule(od, cursor)  # a newer change: the first wait is cancelled
    await settle(server)
    assert len(backend.warmed) == 1
    prefix, suffix = backend.warmed[0]
    assert prefix.endswith("return ") and suffix.startswith("3.14")
    assert warmer.encoded[od.uri] == len(prefix)
    server.documents.stop()


async def test_a_real_request_stops_a_running_warm_up(tokenizer):
    backend = Warmable(tokenizer, hold=True)
    server = stand_in_server(backend, delay_ms=0)
    warmer = ContextWarmer(server)  # type: ignore[arg-type]
    warmer.schedule(opened(server), len(TEXT))
    await asyncio.to_thread(backend.started.wait, 30)
    warmer.yield_to_request()  # what `compute` does before submitting a request
    await settle(server)
    assert backend.stopped == 1
    server.documents.stop()


async def test_nothing_is_warmed_for_a_model_that_keeps_no_context(tokenizer):
    backend = Warmable(tokenizer)
    backend.reuses_context = False  # type: ignore[misc]
    server = stand_in_server(backend, delay_ms=0)
    warmer = ContextWarmer(server)  # type: ignore[arg-type]
    warmer.schedule(opened(server), 3)
    await settle(server)
    assert backend.warmed == []
    server.documents.stop()


@pytest.mark.parametrize(
    "switched_off", [{"warm_context": False}, {"inline_completion": False}], ids=str
)
async def test_nothing_is_scheduled_while_warming_is_off(tokenizer, switched_off):
    """`warmContext` off, or inline completion off (the warm-up prepares its request)."""
    backend = Warmable(tokenizer)
    server = stand_in_server(backend, delay_ms=0, **switched_off)
    warmer = ContextWarmer(server)  # type: ignore[arg-type]
    warmer.schedule(opened(server), TEXT.index("3.14"))
    assert server.tasks == set()  # not even a wait for the quiet time
    await settle(server)
    assert backend.warmed == []
    server.documents.stop()


async def test_switching_warming_off_stops_the_warm_ups_running_and_waiting(tokenizer):
    backend = Warmable(tokenizer, hold=True)
    server = stand_in_server(backend, delay_ms=0)
    warmer = ContextWarmer(server)  # type: ignore[arg-type]
    warmer.schedule(opened(server), len(TEXT))
    await asyncio.to_thread(backend.started.wait, 30)  # running on the worker
    server.settings = replace(server.settings, warm_context_delay_ms=60_000)
    warmer.schedule(opened(server, uri="file:///w/b.py"), len(TEXT))  # waiting its delay
    server.settings = replace(server.settings, warm_context=False)
    warmer.stop()  # what applying the settings does
    await settle(server)  # would wait out the delay were the waiting one kept
    assert backend.stopped == 1
    assert len(backend.warmed) == 1
    server.documents.stop()


def test_a_new_context_cache_bound_reloads_the_model_with_it(tokenizer):
    """contextCacheEntries reaches the loader, and changing it loads the model again."""
    from diffill.server.lsp import build_server

    calls: list[dict[str, Any]] = []
    loaded = threading.Event()

    def loader(folder: str | None, **kwargs: Any) -> Any:
        calls.append(kwargs)
        loaded.set()
        return ScriptedInfiller(tokenizer, [])

    server = build_server(loader=loader)
    try:
        server.models.load()
        assert loaded.wait(30)
        loaded.clear()
        server.apply_settings({"dtype": "auto"})  # nothing of the model changes: no load
        server.apply_settings({"contextCacheEntries": 2})
        assert loaded.wait(30)
        assert [c["context_cache_entries"] for c in calls] == [4, 2]
        assert calls[-1] == {"device": "cpu", "dtype": "auto", "context_cache_entries": 2}
    finally:
        server.stop_work()
