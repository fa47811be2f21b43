"""Throughput of `refactor --select todo`: held-out standard-library files with function
bodies replaced by `pass`, filled in batches; spans per second and how many results parse.

    python -m bench.refactor_todo [--model DIR] [--files N] [--spans N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from diffill.model import load
from diffill.model.training.sources import is_heldout
from diffill.server import refactor, syntax
from diffill.server.refactor import RefactorOptions

from .machine import save

STDLIB = Path(shutil.__file__).parent


def blank_bodies(text: str, max_bodies: int) -> tuple[str, int]:
    """`text` with up to `max_bodies` function bodies (after any docstring) made `pass`."""
    lang = syntax.language_for_name("python")
    data = text.encode()
    tree = syntax.parse(data, lang)
    cuts = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            body = node.child_by_field_name("body")
            stmts = [c for c in body.named_children if c.type != "comment"] if body else []
            if (
                stmts
                and stmts[0].type == "expression_statement"
                and stmts[0].child(0).type == ("string")
            ):
                stmts = stmts[1:]
            if 1 <= len(stmts) <= 12 and stmts[-1].end_byte - stmts[0].start_byte < 600:
                cuts.append((stmts[0].start_byte, stmts[-1].end_byte))
                continue  # nested functions go with their parent
        stack.extend(node.children)
    cuts = sorted(cuts)[:max_bodies]
    for a, b in reversed(cuts):
        data = data[:a] + b"pass" + data[b:]
    return data.decode(), len(cuts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--spans", type=int, default=48, help="spans in all")
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    infiller = load(args.model)
    sources = [
        p for p in sorted(STDLIB.glob("*.py")) if is_heldout(p.read_text("utf-8", "replace"))
    ]
    work = Path(tempfile.mkdtemp(prefix="diffill-bench-"))
    total = 0
    per_file = max(1, args.spans // args.files)
    for src in sources[: args.files]:
        text, n = blank_bodies(src.read_text(), per_file)
        (work / src.name).write_text(text)
        total += n
    opts = RefactorOptions(select="todo", batch_size=args.batch_size, limit=args.spans)
    t0 = time.perf_counter()
    outcomes, summary = refactor.run([str(work)], infiller, opts)
    seconds = time.perf_counter() - t0
    lang = syntax.language_for_name("python")
    files_parse = sum(
        1
        for o in outcomes
        if o.new_text is not None
        and syntax.count_errors(syntax.parse(o.new_text.encode(), lang), lang) == 0
    )
    figures = {
        "model": str(infiller.facts.folder),
        "files": len(outcomes),
        "spans": summary.spans_found,
        "changed": summary.changed,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
        "errors": summary.errors,
        "seconds": round(seconds, 2),
        "spans_per_second": round(summary.spans_found / seconds, 3),
        "changed_files_that_parse": files_parse,
        "changed_files": summary.files_changed,
        "batch_size": args.batch_size,
        "reasons": summary.reasons,
    }
    print(
        f"{summary.spans_found} spans in {len(outcomes)} files: {seconds:.1f} s, "
        f"{figures['spans_per_second']} spans/s; changed {summary.changed}, unchanged "
        f"{summary.unchanged}, rejected {summary.rejected}; changed files that parse: "
        f"{files_parse}/{summary.files_changed}"
    )
    print(f"saved {save('refactor_todo', figures)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
