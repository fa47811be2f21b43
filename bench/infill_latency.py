"""Latency of `infill` on the shipped model: ghost text (a one-line request, as the
Language Server asks at the cursor: it ends at the line's end and before a loop's
repeats), a fill whose length the model picks, and fixed 64-token spans, with short and
long context, p50/p95 over repeated runs.

    python -m bench.infill_latency [--model DIR] [--repeats N] [--label NAME]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from diffill.model import Backend, load

from .machine import save

SOURCE = Path(argparse.__file__)  # a stdlib file as realistic context


def context(tokens: int, backend: Backend) -> tuple[str, str]:
    """A prefix/suffix pair around a line of a real file, cut to about `tokens` tokens
    (two thirds before the gap) as the backend counts them."""
    text = SOURCE.read_text()
    lines = text.splitlines(keepends=True)
    mid = len(lines) // 2
    prefix, suffix = "".join(lines[:mid]), "".join(lines[mid + 1 :])
    keep_pre = tokens * 2 // 3
    start = _longest(len(prefix), lambda n: backend.count_tokens(prefix[-n:]) <= keep_pre)
    end = _longest(len(suffix), lambda n: backend.count_tokens(suffix[:n]) <= tokens - keep_pre)
    return prefix[len(prefix) - start :], suffix[:end]


def _longest(limit: int, fits) -> int:
    """The largest n in 0..limit with fits(n), for fits true up to some n and false after."""
    lo, hi = 0, limit
    while lo < hi:
        n = (lo + hi + 1) // 2
        lo, hi = (n, hi) if fits(n) else (lo, n - 1)
    return lo


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--label", default="", help="saved as infill_latency_LABEL.json")
    args = ap.parse_args()
    infiller = load(args.model)
    rows = []
    cases = [  # (name, fixed length, one line, context tokens)
        ("ghost text (one_line)", None, True, 256),
        ("ghost text (one_line)", None, True, 1024),
        ("one line (model picks length)", None, False, 256),
        ("one line (model picks length)", None, False, 1024),
        ("64 tokens", 64, False, 256),
        ("64 tokens", 64, False, 1024),
    ]
    for name, length, one_line, ctx_tokens in cases:
        prefix, suffix = context(ctx_tokens, infiller)
        infiller.infill(prefix, suffix, length=length, one_line=one_line)  # warm-up
        times, steps, produced = [], [], []
        for seed in range(args.repeats):
            t0 = time.perf_counter()
            r = infiller.infill(prefix, suffix, length=length, one_line=one_line, seed=seed)
            times.append(time.perf_counter() - t0)
            steps.append(r.steps)
            produced.append(len(r.tokens))
        row = {
            "case": name,
            "context_tokens": ctx_tokens,
            "length": length,
            "one_line": one_line,
            "p50_ms": round(1000 * statistics.median(times), 1),
            "p95_ms": round(1000 * percentile(times, 0.95), 1),
            "mean_steps": round(statistics.mean(steps), 1),
            "mean_tokens": round(statistics.mean(produced), 1),
        }
        rows.append(row)
        print(
            f"{name:<32} ctx {ctx_tokens:>5}  p50 {row['p50_ms']:>7.1f} ms  "
            f"p95 {row['p95_ms']:>7.1f} ms  steps {row['mean_steps']:>5}  "
            f"tokens {row['mean_tokens']:>5}"
        )
    path = save(
        "infill_latency" + (f"_{args.label}" if args.label else ""),
        {
            "model": str(infiller.facts.folder),
            "repeats": args.repeats,
            "parameters": infiller.facts.parameters,
            "rows": rows,
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
