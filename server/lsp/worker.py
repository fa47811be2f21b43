"""The model worker: one thread that runs model work in order, fed by a bounded queue, so
the event loop never waits for a denoise."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

# Model work waiting behind the running job. Editors fire completions on every keystroke;
# beyond a handful of queued requests the oldest are stale anyway.
MAX_QUEUED = 8


class Superseded(Exception):
    """Queued model work dropped because newer work replaced it or the queue overflowed."""


@dataclass(eq=False)
class Job:
    run: Callable[[], Any]
    cancel: threading.Event
    key: Hashable | None = None  # work with the same key supersedes queued older work
    droppable: bool = True  # model loads are never dropped
    # When the request arrived (`ModelWorker.ticket`): what "newer" means between two jobs.
    order: int = 0
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
        self._tickets = itertools.count(1)

    def ticket(self) -> int:
        """A number for a request as it arrives, before anything is awaited for it. Work
        reaches `submit` after awaits (a parse, a progress token from the client) that can
        finish out of order; the ticket keeps an older request from superseding a newer
        one that happened to be submitted first."""
        return next(self._tickets)

    def submit(
        self,
        run: Callable[[], Any],
        *,
        cancel: threading.Event,
        key: Hashable | None = None,
        droppable: bool = True,
        supersede_running: bool = False,
        order: int | None = None,
    ) -> Job:
        """Queue `run`; a queued job with the same key and an older `order` is dropped
        (and, with `supersede_running`, a running one is cancelled). If one with the same
        key is newer, `run` itself is dropped. Past `max_queued`, the oldest droppable job
        is dropped. order: the request's `ticket()`, taken when it arrived (default: now)."""
        job = Job(run, cancel, key, droppable, self.ticket() if order is None else order)
        dropped: list[tuple[Job, str]] = []
        with self._cond:
            if self._stopped:
                _settle(job.future, Superseded("the server is shutting down"))
                return job
            running = self._running
            if key is not None:
                same = [j for j in self._queue if j.key == key]
                if running is not None and running.key == key:
                    same.append(running)
                if any(j.order > job.order for j in same):
                    job.cancel.set()
                    _settle(job.future, Superseded("superseded by a newer request"))
                    return job
                for old in same:
                    if old is running:
                        if supersede_running:
                            running.cancel.set()
                    else:
                        self._queue.remove(old)
                        dropped.append((old, "superseded by a newer request"))
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
