"""Throughput of `refactor --select todo` locally (`--jobs`) and on Ray (`--ray local`
with 1 and 2 model actors), and what the driver costs per span.

    python -m bench.refactor_ray [--model DIR] [--files N] [--spans N] [--batch-size B]

The work is `bench.refactor_todo`'s: held-out standard-library files with function
bodies made `pass`. Spans per second count the run alone (scan, batches, results), not
starting the runtime or the actors, which is reported apart. The driver's cost is the
run once more with every batch answered from the Ray run's results, the batches and
results still serialized as they travel: scanning, planning, packing, reading results
and applying edits, all that the driver does per span whatever the cluster's size.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import torch

from diffill.model import Backend, load
from diffill.model.training.sources import is_heldout
from diffill.server import cluster, refactor
from diffill.server.editing.request import EditOptions, EditResult, Intent
from diffill.server.refactor import Batches, BatchResults, Files, RefactorOptions, Runner

from .machine import save
from .refactor_todo import STDLIB, blank_bodies


def edits(outcomes: list[refactor.FileOutcome]) -> list[tuple]:
    return sorted(
        (o.path, s.start, s.end, s.result.status, s.result.replacement)
        for o in outcomes
        for s in o.spans
    )


class Replay(Runner):
    """Answers each batch with a recorded result, through the serialization Ray does."""

    def __init__(self, results: dict[int, list[EditResult]]) -> None:
        self.results = results
        self.bytes_out = 0
        self.bytes_back = 0

    def edit(
        self, batches: Batches, files: Files, intent: Intent, options: EditOptions
    ) -> BatchResults:
        for i, batch in enumerate(batches):
            out = pickle.dumps(cluster.pack(batch, files, intent, options))
            back = pickle.dumps(self.results[i])
            self.bytes_out += len(out)
            self.bytes_back += len(back)
            yield i, pickle.loads(back)


class Recording(Runner):
    """A runner's results, kept by batch for `Replay`."""

    def __init__(self, inner: Runner) -> None:
        self.inner = inner
        self.results: dict[int, list[EditResult]] = {}

    def edit(
        self, batches: Batches, files: Files, intent: Intent, options: EditOptions
    ) -> BatchResults:
        for i, results in self.inner.edit(batches, files, intent, options):
            self.results[i] = results
            yield i, results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--files", type=int, default=2)
    ap.add_argument("--spans", type=int, default=24, help="spans in all")
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    sources = [
        p for p in sorted(STDLIB.glob("*.py")) if is_heldout(p.read_text("utf-8", "replace"))
    ]
    work = Path(tempfile.mkdtemp(prefix="diffill-bench-"))
    per_file = max(1, args.spans // args.files)
    for src in sources[: args.files]:
        text, _ = blank_bodies(src.read_text(), per_file)
        (work / src.name).write_text(text)
    opts = RefactorOptions(select="todo", batch_size=args.batch_size, limit=args.spans)
    rows: dict[str, dict] = {}

    def timed(name: str, model: Backend | Runner, jobs: int = 1) -> list[tuple]:
        o = dataclasses.replace(opts, jobs=jobs)
        t0 = time.perf_counter()
        outcomes, summary = refactor.run([str(work)], model, o)
        seconds = time.perf_counter() - t0
        rows[name] = {
            "spans": summary.spans_found,
            "changed": summary.changed,
            "seconds": round(seconds, 2),
            "spans_per_second": round(summary.spans_found / seconds, 3),
        }
        print(
            f"{name}: {summary.spans_found} spans in {seconds:.1f} s, "
            f"{rows[name]['spans_per_second']} spans/s"
        )
        return edits(outcomes)

    load_before = os.getloadavg()
    backend = load(args.model)
    local = timed("local --jobs 1", backend)
    timed("local --jobs 2", backend, jobs=2)
    # What one CPU actor runs: the same model on one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    one_thread = timed("local, 1 torch thread", backend)
    torch.set_num_threads(threads)
    del backend  # the driver of a Ray run holds no model

    spec = cluster.ModelSpec(str(Path(args.model).resolve()) if args.model else None)
    same: dict[str, bool] = {}
    recording: Recording | None = None
    with cluster.connect(cluster.LOCAL):
        for actors in (1, 2):
            runner = cluster.RayRunner(spec, actors=actors)
            t0 = time.perf_counter()
            runner.start()
            started = time.perf_counter() - t0
            name = f"ray local, {actors} actor{'s' if actors > 1 else ''}"
            recording = Recording(runner)
            found = timed(name, recording)
            runner.close()
            p = runner.placement
            assert p is not None
            rows[name].update(
                cpus_per_actor=p.num_cpus,
                start_seconds=round(started, 2),
                driver_busy_seconds=round(rows[name]["seconds"] - runner.stats.waiting_seconds, 3),
                retried=runner.stats.retried,
            )
            same[name] = found == local
            same[f"{name}, against local on 1 thread"] = found == one_thread
    # The driver alone: the last run again, each batch answered with its recorded result.
    assert recording is not None
    replay = Replay(recording.results)
    t0 = time.perf_counter()
    _, summary = refactor.run([str(work)], replay, opts)
    seconds = time.perf_counter() - t0
    batches = len(recording.results)
    driver = {
        "seconds_per_span": round(seconds / summary.spans_found, 5),
        "bytes_out_per_batch": replay.bytes_out // batches,
        "bytes_back_per_batch": replay.bytes_back // batches,
        "batches": batches,
    }
    figures = {
        "model": str(spec.folder or "shipped"),
        "files": args.files,
        "batch_size": args.batch_size,
        "load_average_before_after": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        "local_torch_threads": threads,
        "runs": rows,
        "same_edits_as_local": same,
        "driver": driver,
    }
    for name, same_edits in same.items():
        print(f"{name}: same edits as local: {same_edits}")
    print(
        f"driver: {driver['seconds_per_span'] * 1000:.2f} ms per span; a batch of "
        f"{args.batch_size} spans sends {driver['bytes_out_per_batch']:,} bytes and gets "
        f"{driver['bytes_back_per_batch']:,} back"
    )
    print(f"saved {save('refactor_ray', figures)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
