"""How fast diffill decodes, and what speed costs: parallel (threshold) decoding against
the same network decoding one token per step, and against the autoregressive peer.

1. latency p50/p95 of `infill` for spans of 8, 16, 32, 64 and 128 tokens with 256 and
   1,024 tokens of context, each call on a context the model has not seen (cold: a
   model that keeps contexts, as both diffill models do, encodes all of it);
2. tokens per second and model calls per token;
3. the same network with one token per step (`length=L, steps=L`), and the exact match of
   both on held-out tasks;
4. the autoregressive peer (`--ar-model`): the same size, trained on the same data with
   fill-in-the-middle, decoded with a key/value cache; its tokens per second and exact
   match beside diffill's. `--ar-model same-network` decodes the block model's own
   network that way (it was trained AR first): the speed of a peer of the same size, not
   its quality;
5. for a model that keeps contexts: cold against warm after one typed character (the
   previous request's context cached) and against warmed (the server's warm-up in the
   pause after typing encoded it, `warm_context`);
6. the machine's measured matmul throughput (the network's own shapes) beside the
   throughput achieved encoding a 1,024-token context.

    python -m bench.decode_speed [--model DIR] [--ar-model DIR|same-network]
        [--tasks FILE.jsonl] [--device cpu|cuda] [--dtype auto] [--threads N]
        [--repeats N] [--n TASKS]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import time
from pathlib import Path

import torch

from diffill.model import PRESETS, Backend, evaluation, load
from diffill.model.backends.autoregressive import ARInfiller
from diffill.model.checkpoint import Checkpoint

from .infill_latency import context, percentile
from .machine import save

LENGTHS = (8, 16, 32, 64, 128)
CONTEXTS = (256, 1024)
ONE_PER_STEP = {"steps": 10_000}  # a step budget above any span: one token per step


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# Seconds of CPU this process used per call, beside the wall-clock ones: on a machine
# shared with other work (load average in the JSON) a call waits for a core, and the CPU
# time is what the call itself cost.
CPU_TIMES: list[float] = []


def timed(fn, repeats: int, device: str) -> tuple[list[float], object]:
    fn(0)  # warm-up: first calls allocate and pick kernels
    times, last = [], None
    CPU_TIMES.clear()
    for seed in range(repeats):
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        last = fn(seed)
        _sync(device)
        times.append(time.perf_counter() - t0)
        CPU_TIMES.append(time.process_time() - c0)
    return times, last


def row(
    name: str, ctx: int, length: int, times: list[float], calls: float, computed: int = -1
) -> dict:
    p50 = statistics.median(times)
    cpu = statistics.median(CPU_TIMES) if len(CPU_TIMES) == len(times) else float("nan")
    return {
        "decoder": name,
        "context_tokens": ctx,
        "span_tokens": length,
        "p50_ms": round(1000 * p50, 1),
        "p95_ms": round(1000 * percentile(times, 0.95), 1),
        "cpu_p50_ms": round(1000 * cpu, 1),
        "cpu_tokens_per_s": round(length / cpu, 1),
        "tokens_per_s": round(length / p50, 1),
        "model_calls": round(calls, 1),
        "calls_per_token": round(calls / length, 3),
        # context tokens the last call encoded (-1: the backend does not say)
        "context_computed": computed,
    }


_CALLS = itertools.count()


def cold(prefix: str, suffix: str, seed: int) -> tuple[str, str]:
    """The gap with a line of its own at the start of the suffix: a context no earlier
    call had (the suffix comes first in SPM order, so all of it is encoded again). Every
    call gets its own line, not one per seed: the context cache would otherwise find the
    contexts of an earlier row's seeds."""
    return prefix, f"# run {seed}.{next(_CALLS)}\n" + suffix


def same_network_peer(backend: Backend, max_context: int) -> ARInfiller:
    """The block model's network decoded as the autoregressive peer (one token per call,
    keys/values cached): the same size and weights, so the same cost per token."""
    net = backend.model  # type: ignore[attr-defined]
    cfg = dataclasses.replace(net.cfg, causal=True)
    twin = type(net)(cfg).to(next(net.parameters()).device)
    twin.load_state_dict(net.state_dict())
    twin = twin.to(next(net.parameters()).dtype).eval()
    if net.packed_embedding is not None:  # the same kernels as the network it is timed against
        twin.pack_weights()
    ckpt = Checkpoint(twin, backend.tokenizer)  # type: ignore[attr-defined]
    return ARInfiller(ckpt, "same network, autoregressive", max_context_tokens=max_context)


def matmul_gflops(dim: int, hidden: int, tokens: int, dtype: torch.dtype, repeats: int) -> float:
    """Measured GFLOP/s of the network's largest matmul shape, (tokens, dim) x (dim, hidden),
    in `dtype`: the ceiling a context encode could reach."""
    a = torch.randn(tokens, dim, dtype=dtype)
    b = torch.randn(dim, hidden, dtype=dtype)
    for _ in range(3):
        a @ b
    t0 = time.process_time()
    for _ in range(repeats):
        a @ b
    seconds = (time.process_time() - t0) / repeats
    return 2 * tokens * dim * hidden / seconds / 1e9


def encode_flops(cfg, tokens: int) -> float:
    """FLOPs of one causal pass over `tokens` (Kaplan et al. 2020: 2 per weight per token,
    plus attention's scores and weighted sum over, on average, half the tokens)."""
    per_layer = 2 * (4 * cfg.dim * cfg.dim + 3 * cfg.dim * cfg.mlp_dim)
    attention = 2 * 2 * cfg.dim * (tokens / 2)
    return tokens * cfg.n_layers * (per_layer + attention)


def throughput(backend: Backend, prefix: str, suffix: str, repeats: int) -> dict:
    """Context-encode throughput (the model's own path: `warm_context` for a model that
    keeps contexts, else one pass over the context) beside matmul throughput, both in CPU
    time (per thread used, so the share is comparable on a busy machine)."""
    net = backend.model  # type: ignore[attr-defined]
    cfg, dtype = net.cfg, next(net.parameters()).dtype
    times, tokens = [], 0
    for seed in range(repeats + 1):
        p, s = cold(prefix, suffix, seed)
        t0 = time.process_time()
        if backend.reuses_context:
            tokens = backend.warm_context(p, s)
        else:
            ids = torch.tensor([backend.tokenizer.encode(s + p)])  # type: ignore[attr-defined]
            tokens = ids.shape[1]
            with torch.no_grad():
                net.hidden(ids, torch.arange(tokens)[None])
        if seed:  # the first is a warm-up
            times.append(time.process_time() - t0)
    seconds = statistics.median(times)
    achieved = encode_flops(cfg, tokens) / seconds / 1e9
    measured = matmul_gflops(cfg.dim, cfg.mlp_dim, 1024, dtype, 10)
    return {
        "dtype": str(dtype).removeprefix("torch."),
        "context_tokens": tokens,
        "encode_cpu_ms": round(1000 * seconds, 1),
        "encode_gflops": round(achieved, 1),
        "matmul_gflops": round(measured, 1),
        "share_of_matmul": round(achieved / measured, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="diffusion model (default: the shipped one)")
    ap.add_argument("--ar-model", help="the autoregressive peer's folder")
    ap.add_argument("--tasks", help="held-out tasks (JSONL) for exact match")
    ap.add_argument("--n", type=int, default=100, help="tasks used from --tasks")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or int8")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    ap.add_argument("--label", default="", help="suffix of the JSON's name (a second run)")
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
    ap.add_argument("--contexts", default=",".join(map(str, CONTEXTS)))
    ap.add_argument(
        "--typing-lengths",
        default="16",
        help="spans timed cold, warm and warmed (models that keep contexts)",
    )
    ap.add_argument("--out", help="save the JSON here instead of bench/results/")
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",")]
    presets = args.presets.split(",")
    # The baseline: the same network and canvases, one token committed per step.
    baseline = {**PRESETS[presets[0]], **ONE_PER_STEP}

    if args.threads:
        torch.set_num_threads(args.threads)
    infiller = load(
        args.model, device=args.device, dtype=args.dtype, max_context_tokens=args.max_context
    )
    peer: Backend | None = None
    if args.ar_model == "same-network":
        peer = same_network_peer(infiller, args.max_context)
    elif args.ar_model:
        peer = load(args.ar_model, device=args.device, max_context_tokens=args.max_context)
        if peer.facts.family != "diffill-fim-ar":
            ap.error(f"--ar-model {args.ar_model} holds a {peer.facts.family} model")
    rows, warm_rows, encode = [], [], {}
    typing_lengths = {int(x) for x in args.typing_lengths.split(",") if x}
    for ctx in [int(x) for x in args.contexts.split(",")]:
        prefix, suffix = context(ctx, infiller)
        encode[str(ctx)] = throughput(infiller, prefix, suffix, max(3, args.repeats // 2))
        print(f"encode ctx {ctx}: {encode[str(ctx)]}", flush=True)
        for length in lengths:
            decoders = [(f"diffusion ({p})", PRESETS[p]) for p in presets]
            decoders.append(("diffusion, one token per step", baseline))
            for name, opts in decoders:
                times, r = timed(
                    lambda seed, o=opts, p=prefix, s=suffix, n=length: infiller.infill(
                        *cold(p, s, seed), length=n, **{**o, "seed": seed}
                    ),
                    args.repeats,
                    args.device,
                )
                # One call encodes the context; each step is one more.
                rows.append(row(name, ctx, length, times, 1 + r.steps, r.context_computed))
                print(_fmt(rows[-1]), flush=True)
            if peer is not None:
                times, r = timed(
                    # The peer's own option: END held back, so it writes n tokens.
                    lambda seed, p=prefix, s=suffix, n=length: peer.infill(
                        *cold(p, s, seed), length=n, min_new_tokens=n
                    ),
                    args.repeats,
                    args.device,
                )
                rows.append(row("autoregressive peer", ctx, length, times, 1 + r.steps))
                print(_fmt(rows[-1]), flush=True)
            if infiller.reuses_context and length in typing_lengths:
                warm_rows += typing_rows(infiller, prefix, suffix, ctx, length, presets[0], args)

    figures = {
        "model": str(infiller.facts.folder),
        "parameters": infiller.facts.parameters,
        "ar_model": args.ar_model,
        "device": args.device,
        "presets": {p: PRESETS[p] for p in {*presets, *args.quality_presets.split(",")}},
        "baseline": baseline,
        "max_context_tokens": args.max_context,
        "repeats": args.repeats,
        "dtype": infiller.facts.dtype,
        "precision": infiller.facts.precision,
        "rows": rows,
        # cold / warm after one typed character / warmed in the pause (models that keep
        # contexts only)
        "typing": warm_rows,
        "encode_throughput": encode,
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
        if peer is not None and args.ar_model != "same-network":  # its speed only
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


def typing_rows(
    infiller: Backend, prefix: str, suffix: str, ctx: int, length: int, preset: str, args
) -> list[dict]:
    """One typed character at the gap: the request after it with the previous request's
    context cached (warm), and after the server's warm-up encoded the new context in the
    pause (warmed), beside the same request cold."""
    opts = PRESETS[preset]
    out = []
    for name in ("cold", "warm after one typed character", "warmed in the pause"):
        times, computed = [], []
        CPU_TIMES.clear()
        for seed in range(args.repeats + 1):
            p, s = cold(prefix, suffix, 1000 + seed)
            if name != "cold":
                infiller.infill(p, s, length=length, **{**opts, "seed": seed})
            if name == "warmed in the pause":
                infiller.warm_context(p + "x", s)
            _sync(args.device)
            t0, c0 = time.perf_counter(), time.process_time()
            r = infiller.infill(p + "x", s, length=length, **{**opts, "seed": seed})
            _sync(args.device)
            if seed:  # the first is a warm-up
                times.append(time.perf_counter() - t0)
                CPU_TIMES.append(time.process_time() - c0)
                computed.append(r.context_computed)
        out.append(
            {
                **row(f"{name} ({preset})", ctx, length, times, 1 + r.steps),
                "context_computed": round(statistics.mean(computed), 1),
            }
        )
        print(_fmt(out[-1]), f"computed {out[-1]['context_computed']}", flush=True)
    return out


def _save(figures: dict, args) -> Path:
    name = "decode_speed" + ("_cuda" if args.device.startswith("cuda") else "")
    path = save(name + (f"_{args.label}" if args.label else ""), figures)
    if args.out:
        Path(args.out).write_text(path.read_text())
        return Path(args.out)
    return path


def _fmt(r: dict) -> str:
    return (
        f"{r['decoder']:<32} ctx {r['context_tokens']:>5} span {r['span_tokens']:>4}  "
        f"p50 {r['p50_ms']:>8.1f} ms  p95 {r['p95_ms']:>8.1f} ms  cpu {r['cpu_p50_ms']:>8.1f} ms  "
        f"{r['tokens_per_s']:>8.1f} tok/s  {r['calls_per_token']:.3f} calls/token"
    )


if __name__ == "__main__":
    main()
