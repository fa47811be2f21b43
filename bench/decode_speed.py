"""How fast diffill decodes, and what speed costs: parallel (threshold) decoding against
the same network decoding one token per step, and against the autoregressive peer.

1. latency p50/p95 of `infill` for spans of 8, 32, 64 and 128 tokens with 256 and 1,024
   tokens of context;
2. tokens per second and model calls per token;
3. the same network with one token per step (`length=L, steps=L`), and the exact match of
   both on held-out tasks;
4. the autoregressive peer (`--ar-model`): the same size, trained on the same data with
   fill-in-the-middle, decoded with a key/value cache; its tokens per second and exact
   match beside diffill's.

    python -m bench.decode_speed [--model DIR] [--ar-model DIR] [--tasks FILE.jsonl]
        [--device cpu|cuda] [--preset balanced] [--repeats N] [--n TASKS]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from diffill.model import PRESETS, evaluation, load

from .infill_latency import context, percentile
from .machine import save

LENGTHS = (8, 32, 64, 128)
CONTEXTS = (256, 1024)
ONE_PER_STEP = {"steps": 10_000}  # a step budget above any span: one token per step


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, repeats: int, device: str) -> tuple[list[float], object]:
    fn(0)  # warm-up: first calls allocate and pick kernels
    times, last = [], None
    for seed in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        last = fn(seed)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times, last


def row(name: str, ctx: int, length: int, times: list[float], calls: float) -> dict:
    p50 = statistics.median(times)
    return {
        "decoder": name,
        "context_tokens": ctx,
        "span_tokens": length,
        "p50_ms": round(1000 * p50, 1),
        "p95_ms": round(1000 * percentile(times, 0.95), 1),
        "tokens_per_s": round(length / p50, 1),
        "model_calls": round(calls, 1),
        "calls_per_token": round(calls / length, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="diffusion model (default: the shipped one)")
    ap.add_argument("--ar-model", help="the autoregressive peer's folder")
    ap.add_argument("--tasks", help="held-out tasks (JSONL) for exact match")
    ap.add_argument("--n", type=int, default=100, help="tasks used from --tasks")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--presets",
        default="balanced,fast",
        help="presets timed (the first also sets the baseline's length candidates)",
    )
    ap.add_argument(
        "--quality-presets", default="quality,balanced,fast", help="presets scored on --tasks"
    )
    ap.add_argument("--max-context", type=int, default=1024, help="context budget (tokens)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    ap.add_argument("--out", help="save the JSON here instead of bench/results/")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    presets = args.presets.split(",")
    # The baseline: the same network and canvases, one token committed per step.
    baseline = {**PRESETS[presets[0]], **ONE_PER_STEP}

    infiller = load(args.model, device=args.device, max_context_tokens=args.max_context)
    peer = None
    if args.ar_model:
        peer = load(args.ar_model, device=args.device, max_context_tokens=args.max_context)
        if peer.facts.family != "diffill-fim-ar":
            ap.error(f"--ar-model {args.ar_model} holds a {peer.facts.family} model")
    rows = []
    for ctx in CONTEXTS:
        prefix, suffix = context(ctx, infiller)
        for length in lengths:
            decoders = [(f"diffusion ({p})", PRESETS[p]) for p in presets]
            decoders.append(("diffusion, one token per step", baseline))
            for name, opts in decoders:
                times, r = timed(
                    lambda seed, o=opts, p=prefix, s=suffix, n=length: infiller.infill(
                        p, s, length=n, **{**o, "seed": seed}
                    ),
                    args.repeats,
                    args.device,
                )
                # One call encodes the context; each step is one more.
                rows.append(row(name, ctx, length, times, 1 + r.steps))
                print(_fmt(rows[-1]), flush=True)
            if peer is not None:
                times, r = timed(
                    # The peer's own option: END held back, so it writes n tokens.
                    lambda seed, p=prefix, s=suffix, n=length: peer.infill(
                        p, s, length=n, min_new_tokens=n
                    ),
                    args.repeats,
                    args.device,
                )
                rows.append(row("autoregressive peer", ctx, length, times, 1 + r.steps))
                print(_fmt(rows[-1]), flush=True)

    figures = {
        "model": str(infiller.facts.folder),
        "parameters": infiller.facts.parameters,
        "ar_model": args.ar_model,
        "device": args.device,
        "presets": {p: PRESETS[p] for p in {*presets, *args.quality_presets.split(",")}},
        "baseline": baseline,
        "max_context_tokens": args.max_context,
        "repeats": args.repeats,
        "rows": rows,
        "tasks": args.tasks,
        "quality": {},
    }
    path = _save(figures, args)  # the latency figures, even if the task runs fail

    quality = figures["quality"]
    if args.tasks:
        tasks = evaluation.read_tasks(args.tasks)
        tasks = [t for t in tasks if t.kind == "single_line"][: args.n] or tasks[: args.n]
        runs = [(f"diffusion ({p})", infiller, PRESETS[p]) for p in args.quality_presets.split(",")]
        runs.append(("diffusion, one token per step", infiller, baseline))
        if peer is not None:
            runs.append(("autoregressive peer", peer, {}))
        for name, model, opts in runs:
            t0 = time.perf_counter()
            results = evaluation.evaluate(model, tasks, batch_size=1, **opts)
            seconds = time.perf_counter() - t0
            summary = evaluation.summarize(results)
            scores = summary.get("all", next(iter(summary.values())))
            produced = sum(infiller.count_tokens(r.completion) for r in results)
            quality[name] = {
                "tasks": len(results),
                "exact_match": scores["exact_match"],
                "edit_similarity": scores["edit_similarity"],
                "mean_model_calls": scores["mean_steps"],
                "tokens_per_s": round(produced / seconds, 1),
                "seconds": round(seconds, 1),
            }
            print(f"{name:<32} {quality[name]}", flush=True)

    path = _save(figures, args)
    print(f"saved {path}")


def _save(figures: dict, args) -> Path:
    path = save("decode_speed" + ("_cuda" if args.device.startswith("cuda") else ""), figures)
    if args.out:
        Path(args.out).write_text(path.read_text())
        return Path(args.out)
    return path


def _fmt(r: dict) -> str:
    return (
        f"{r['decoder']:<32} ctx {r['context_tokens']:>5} span {r['span_tokens']:>4}  "
        f"p50 {r['p50_ms']:>8.1f} ms  p95 {r['p95_ms']:>8.1f} ms  "
        f"{r['tokens_per_s']:>8.1f} tok/s  {r['calls_per_token']:.3f} calls/token"
    )


if __name__ == "__main__":
    main()
