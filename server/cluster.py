"""Batch refactoring on a Ray cluster: `diffill refactor PATH... --ray ADDRESS`.

What runs where. The driver (the `diffill` process) walks, reads and hashes the files,
parses them to find the spans and plans the batches exactly as a local run does
(`refactor.run`); it loads no model. Each batch goes to a model actor as a `WireBatch`:
the text of the files it touches, the spans' ranges, the intent and the engine options.
The actor builds each span's prefix and suffix, runs the model, checks every candidate
against its whole file and sends back the results (`refactor.edit_spans`, the function
a local run calls on the same batches). Whole files travel rather than only each span's
prefix and suffix because that check parses the file with the candidate spliced in: it
is what keeps a cluster's edits the local path's. Only the driver writes files, after
the last batch is back, through `files.write_file` (hash-checked, atomic).

Streaming: every actor has up to IN_FLIGHT_PER_ACTOR batches queued, so it never idles
while the driver handles a result, and `ray.wait` hands each batch back as it finishes.

Failures: a batch whose call failed (its actor died, the node went away, the call
raised) is sent again, to any ready actor, up to MAX_ATTEMPTS times in all; then each of
its spans is reported as an error and the run goes on. Ray restarts a dead actor (up to
MAX_RESTARTS times, reloading the model); an actor that does not come back leaves the
pool, and when none is left the remaining batches are reported the same way.

Determinism: the batches are the local path's and the seed travels in the options, so
the edits are a local run's wherever the model computes the same numbers: the same kind
of device and, on CPUs, the same number of threads (torch's CPU kernels round
differently with another thread count; an actor's threads are its CPUs). By default
each CPU actor therefore gets as many CPUs as a local run here uses threads; asking for
more actors than that allows (`--ray-actors`) trades this for throughput.

Ctrl-C: KeyboardInterrupt leaves `ray.wait`, the actors are killed and a runtime this
module started is shut down; no file was written, since writes follow the last batch.

Ray is imported inside the functions here, after `connect` has set the environment it
reads at import: nothing imports Ray without --ray.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from . import syntax
from .document import Document
from .editing.parsed import ParsedDocument
from .editing.request import EditOptions, EditResult, Intent, Status
from .refactor import PlannedSpan, RefactorError, Runner, edit_spans

if TYPE_CHECKING:
    from ray.actor import ActorHandle

LOCAL = "local"  # the address that starts a runtime on this machine
IN_FLIGHT_PER_ACTOR = 2
MAX_ATTEMPTS = 3  # per batch, across actors
MAX_RESTARTS = 3  # per actor, by Ray
START_TIMEOUT_S = 600.0  # for the first actor to load the model


class ClusterError(RefactorError):
    """No run on the cluster: Ray is missing, unreachable, or no actor loads the model."""


# -- what travels ----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """The model every actor loads: a folder that exists on each node (None: the model
    shipped inside the package)."""

    folder: str | None = None
    dtype: str = "auto"
    max_context_tokens: int | None = None


@dataclass(frozen=True)
class WireFile:
    path: str  # named in messages only; the actor never opens it
    text: str
    language: str


@dataclass(frozen=True)
class WireBatch:
    files: tuple[WireFile, ...]
    spans: tuple[tuple[int, int, int], ...]  # (index into files, start, end)
    intent: Intent
    options: EditOptions


def pack(
    batch: Sequence[PlannedSpan],
    files: Mapping[str, ParsedDocument],
    intent: Intent,
    options: EditOptions,
) -> WireBatch:
    """A batch as it travels: each of its files once, however many of its spans it holds."""
    index: dict[str, int] = {}
    wire: list[WireFile] = []
    spans = []
    for s in batch:
        if s.path not in index:
            index[s.path] = len(wire)
            parsed = files[s.path]
            wire.append(WireFile(s.path, parsed.doc.text, parsed.lang.name))
        spans.append((index[s.path], s.start, s.end))
    return WireBatch(tuple(wire), tuple(spans), intent, options)


def unpack(batch: WireBatch) -> list[tuple[ParsedDocument, int, int]]:
    parsed = [
        ParsedDocument.parse(Document(f.text), syntax.language_for_name(f.language))
        for f in batch.files
    ]
    return [(parsed[k], start, end) for k, start, end in batch.spans]


# -- the model actor (runs on the cluster) ---------------------------------------------


@dataclass(frozen=True)
class ActorFacts:
    pid: int
    host: str
    device: str
    model: str


class ModelActor:
    """Loads the model once and edits batches. `ray.remote` is applied when the actors
    start (`RayRunner.start`), so importing this module needs no Ray."""

    def __init__(self, model: ModelSpec, device: str) -> None:
        from diffill.model import load

        # Ray sets OMP_NUM_THREADS to the actor's CPUs, so torch uses what it was given.
        self.backend = load(
            model.folder,
            device=device,
            dtype=model.dtype,
            max_context_tokens=model.max_context_tokens,
        )

    def facts(self) -> ActorFacts:
        f = self.backend.facts
        return ActorFacts(os.getpid(), platform.node(), f.device, f.name)

    def edit(self, batch: WireBatch) -> list[EditResult]:
        return edit_spans(unpack(batch), batch.intent, self.backend, batch.options)


# -- sizing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    actors: int
    num_cpus: float  # what each actor asks Ray for
    num_gpus: float

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus else "cpu"


def place(
    nodes: Sequence[Mapping[str, float]], actors: int | None, threads: int = 1
) -> Placement:
    """How many actors, and what each asks for, on nodes with these resources.

    With GPUs: one actor per GPU by default; more actors share GPUs evenly (1/2, 1/3 of
    one each), which fits whatever the split of GPUs among nodes. Without: by default
    each actor gets `threads` CPUs (the torch threads of a local run, so that its edits
    are a local run's, see the module comment), as many actors as fit; with a number of
    actors, the CPUs are shared out among them in whole CPUs, as many each as still lets
    every actor fit on some node.
    """
    gpus = sum(int(n.get("GPU", 0)) for n in nodes)
    if gpus:
        n = actors or gpus
        return Placement(n, num_cpus=1, num_gpus=1 / math.ceil(n / gpus))
    cpus = [int(n.get("CPU", 0)) for n in nodes]
    if actors is None:
        each = max(1, min(threads, max(cpus, default=1)))
        return Placement(max(1, sum(c // each for c in cpus)), num_cpus=each, num_gpus=0)
    each = max(1, sum(cpus) // actors)
    while each > 1 and sum(c // each for c in cpus) < actors:
        each -= 1
    return Placement(actors, num_cpus=each, num_gpus=0)


def torch_threads() -> int:
    """The CPU threads a local run's model uses here (torch's own default)."""
    import torch

    return torch.get_num_threads()


# -- the runtime -----------------------------------------------------------------------


@contextmanager
def connect(address: str, *, num_cpus: int | None = None) -> Iterator[None]:
    """Connect to Ray as `address` says, Ray's own way: `local` starts a runtime on this
    machine (listening on 127.0.0.1 only, with `num_cpus` CPUs, default all), `auto`
    joins the cluster this machine belongs to (RAY_ADDRESS or a running head), and
    `ray://HOST:PORT` goes through Ray Client. A runtime already connected in this
    process is used as it is and left running. Nothing is fetched from the network: no
    dashboard, no usage statistics.
    """
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if address == LOCAL:
        # Read when Ray is imported: a runtime that is not a cluster binds to the
        # loopback address, so a local run opens no port to the network.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        # Ray lowers its workers' priority (nice 15) to keep its own daemons responsive;
        # here the actors are the work the user asked for, as a local run's model is.
        os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112 - Ray spells it so
    try:
        import ray
    except ImportError:
        raise ClusterError("--ray needs Ray: pip install 'diffill[ray]'") from None
    if ray.is_initialized():
        yield
        return
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == LOCAL:
            ray.init(address=LOCAL, num_cpus=num_cpus, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise ClusterError(f"cannot connect to Ray at {address!r}: {_reason(err)}") from None
    try:
        yield
    finally:
        ray.shutdown()


_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _reason(err: BaseException) -> str:
    """The line of a Ray error that says what happened: its last (a remote traceback
    ends with the exception, an actor's death with its cause)."""
    lines = [line.strip() for line in _ANSI_COLOUR.sub("", str(err)).splitlines()]
    lines = [line for line in lines if line]
    return (lines[-1] if lines else type(err).__name__)[:300]


# -- the driver's side -----------------------------------------------------------------


@dataclass
class RunnerStats:
    batches: int = 0  # batches sent, retries included
    retried: int = 0  # failed calls sent again
    failed: int = 0  # batches given up after MAX_ATTEMPTS, or with no actor left
    actors_lost: int = 0  # actors that did not come back
    waiting_seconds: float = 0.0  # time the driver spent blocked on the cluster
    last_error: str = ""
    per_actor: dict[int, int] = field(default_factory=dict)  # batches done, by actor pid


class _Actor:
    def __init__(self, handle: ActorHandle) -> None:
        self.handle = handle
        self.facts: ActorFacts | None = None
        self.load = 0  # batches in flight


class RayRunner(Runner):
    """The batches on a pool of model actors, results as they finish (see the module
    docstring for what moves and what is retried). Use inside `connect`; `start` first."""

    def __init__(self, model: ModelSpec, actors: int | None = None) -> None:
        if actors is not None and actors < 1:
            raise ValueError(f"actors must be >= 1, not {actors}")
        self.model = model
        self.requested = actors
        self.placement: Placement | None = None
        self.stats = RunnerStats()
        self._ready: list[_Actor] = []
        self._pings: dict[Any, _Actor] = {}  # facts() calls in flight: starting or restarting
        self._all: list[_Actor] = []

    @property
    def actors(self) -> list[ActorFacts]:
        """The actors that have loaded the model, as they last answered."""
        return [a.facts for a in self._ready if a.facts is not None]

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the actors and wait until one has loaded the model (the rest join while
        the run goes on); ClusterError when none does."""
        import ray

        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        # The local path's thread count: the default actor then computes as it does.
        self.placement = p = place(nodes, self.requested, torch_threads())
        remote_cls = ray.remote(
            num_cpus=p.num_cpus,
            num_gpus=p.num_gpus,
            max_restarts=MAX_RESTARTS,
            max_task_retries=0,  # a failed call comes back to `edit`, which counts it
        )(ModelActor)
        for _ in range(p.actors):
            actor = _Actor(cast("ActorHandle", remote_cls.remote(self.model, p.device)))
            self._all.append(actor)
            self._ping(actor)
        deadline = time.monotonic() + timeout_s
        while not self._ready:
            if not self._pings:
                raise ClusterError(f"no model actor started: {self.stats.last_error}")
            left = deadline - time.monotonic()
            done, _ = ray.wait(list(self._pings), num_returns=1, timeout=max(0.0, left))
            if not done:
                raise ClusterError(
                    f"no model actor started within {timeout_s:.0f} s; each asks for "
                    f"{p.num_cpus:g} CPU and {p.num_gpus:g} GPU, and the cluster offers "
                    f"{sum(n.get('CPU', 0) for n in nodes):g} CPU, "
                    f"{sum(n.get('GPU', 0) for n in nodes):g} GPU"
                )
            self._answered(done[0])

    def close(self) -> None:
        """Kill the actors (their model memory is freed now, not when the driver exits)."""
        import ray

        for actor in self._all:
            ray.kill(actor.handle)
        self._all, self._ready, self._pings = [], [], {}

    def _ping(self, actor: _Actor) -> None:
        self._pings[actor.handle.facts.remote()] = actor

    def _answered(self, ref: Any) -> None:
        """A ping came back: the actor is ready, or gone for good."""
        import ray
        from ray.exceptions import RayError

        actor = self._pings.pop(ref)
        try:
            actor.facts = ray.get(ref)
        except RayError as err:
            self.stats.last_error = _reason(err)
            self.stats.actors_lost += 1
            return
        self._ready.append(actor)

    def edit(
        self,
        batches: Sequence[Sequence[PlannedSpan]],
        files: Mapping[str, ParsedDocument],
        intent: Intent,
        options: EditOptions,
    ) -> Iterator[tuple[int, list[EditResult]]]:
        import ray
        from ray.exceptions import RayError

        queue = deque(range(len(batches)))
        attempts = [0] * len(batches)
        running: dict[Any, tuple[int, _Actor]] = {}
        try:
            while queue or running:
                for actor in self._ready:
                    while queue and actor.load < IN_FLIGHT_PER_ACTOR:
                        i = queue.popleft()
                        wire = pack(batches[i], files, intent, options)
                        running[actor.handle.edit.remote(wire)] = (i, actor)
                        actor.load += 1
                        self.stats.batches += 1
                if not running and not self._pings:
                    while queue:
                        i = queue.popleft()
                        self.stats.failed += 1
                        yield i, _failed(batches[i], "no model actor left on the cluster")
                    return
                t0 = time.perf_counter()
                done, _ = ray.wait([*running, *self._pings], num_returns=1)
                self.stats.waiting_seconds += time.perf_counter() - t0
                ref = done[0]
                if ref in self._pings:
                    self._answered(ref)
                    continue
                i, actor = running.pop(ref)
                actor.load -= 1
                try:
                    results: list[EditResult] = ray.get(ref)
                except RayError as err:
                    attempts[i] += 1
                    self.stats.last_error = _reason(err)
                    if actor in self._ready:
                        # Dead (Ray restarts it), or alive after a failed call: ask it
                        # again before it gets more work.
                        self._ready.remove(actor)
                        self._ping(actor)
                    if attempts[i] < MAX_ATTEMPTS:
                        self.stats.retried += 1
                        queue.appendleft(i)
                    else:
                        self.stats.failed += 1
                        reason = f"the cluster failed this batch {MAX_ATTEMPTS} times"
                        yield i, _failed(batches[i], f"{reason} ({type(err).__name__})")
                    continue
                if actor.facts is not None:
                    pid = actor.facts.pid
                    self.stats.per_actor[pid] = self.stats.per_actor.get(pid, 0) + 1
                yield i, results
        finally:  # Ctrl-C, or the caller stopped early: take back what is still queued
            for ref, (_, actor) in running.items():
                actor.load -= 1
                with suppress(RayError):
                    ray.cancel(ref)


def _failed(batch: Sequence[PlannedSpan], reason: str) -> list[EditResult]:
    return [EditResult(Status.ERROR, reason, s.start, s.end) for s in batch]


@contextmanager
def open_runner(
    address: str,
    *,
    actors: int | None,
    model: ModelSpec,
    say: Callable[[str], None] = lambda message: None,
) -> Iterator[RayRunner]:
    """A started `RayRunner` on the cluster at `address`, closed (and a runtime started
    for it shut down) on the way out, Ctrl-C included."""
    with connect(address):
        runner = RayRunner(model, actors)
        try:
            runner.start()
            p = runner.placement
            assert p is not None
            hosts = {f.host for f in runner.actors}
            say(
                f"ray: {p.actors} model actors ({p.device}, {p.num_cpus:g} CPU"
                + (f", {p.num_gpus:g} GPU" if p.num_gpus else "")
                + f" each); the first ready on {', '.join(sorted(hosts))}"
            )
            yield runner
            s = runner.stats
            if s.retried or s.failed or s.actors_lost:
                say(
                    f"ray: {s.retried} batch calls retried, {s.failed} batches failed, "
                    f"{s.actors_lost} actors lost; last error: {s.last_error}"
                )
        finally:
            runner.close()
