"""The `diffill` command: a thin layer over the engine (`engine`, `refactor`).

Exit codes: 0 nothing to do or everything applied; 1 changes pending under --check, or
something failed (a file, the model); 2 usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _versions() -> dict[str, str]:
    out = {}
    for dist in (
        "diffill",
        "torch",
        "tokenizers",
        "safetensors",
        "tree-sitter",
        "pygls",
        "lsprotocol",
        "rich",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def cmd_info(args: argparse.Namespace) -> int:
    from diffill.model import CheckpointError, load

    versions = _versions()
    try:
        infiller = load(args.model, device=args.device)
    except (CheckpointError, ValueError) as err:
        print(f"diffill: cannot load the model: {err}", file=sys.stderr)
        return EXIT_FAILED
    facts = {
        "versions": versions,
        "python": sys.version.split()[0],
        "model": str(infiller.folder),
        "parameters": infiller.num_parameters,
        "device": infiller.describe_device(),
        "dtype": str(next(infiller.model.parameters()).dtype).removeprefix("torch."),
        "config": infiller.model.cfg.to_dict(),
        "training": infiller.info,
    }
    if args.json:
        print(json.dumps(facts, indent=2))
        return EXIT_OK
    print(f"diffill {versions['diffill']} (Python {facts['python']})")
    for dist, v in versions.items():
        if dist != "diffill":
            print(f"  {dist:<12} {v}")
    print(f"model        {facts['model']}")
    print(f"parameters   {facts['parameters']:,} ({facts['parameters'] / 1e6:.1f}M)")
    print(f"device       {facts['device']}")
    print(f"dtype        {facts['dtype']}")
    info = facts["training"]
    if info:
        tokens = info.get("tokens_seen")
        held = info.get("heldout", {})
        print(
            f"trained      {info.get('steps', '?')} steps"
            + (f", {tokens / 1e6:.1f}M tokens" if tokens else "")
            + (f", held-out loss {held['token_loss']}" if "token_loss" in held else "")
        )
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from diffill.model.train import TrainOptions, train

    try:
        opts = TrainOptions(
            corpus=tuple(args.corpus),
            out=args.out,
            size=args.size,
            minutes=args.minutes,
            steps=args.steps,
            tokens=int(args.tokens) if args.tokens else None,
            device=args.device,
            batch_size=args.batch_size,
            seq_tokens=args.seq_tokens,
            lr=args.lr,
            seed=args.seed,
            tokenizer=args.tokenizer,
            objective=args.objective,
            workers=args.workers,
            corpus_dir=args.corpus_dir,
            save_minutes=args.save_minutes,
            block_size=args.block_size,
            fim_order=args.fim_order,
            extra_block_share=args.extra_block_share,
            init=args.init,
            warmup_steps=args.warmup_steps,
            plain_share=args.plain_share,
        )
    except ValueError as err:
        print(f"diffill train: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        folder = train(opts, log=lambda line: print(line, file=sys.stderr, flush=True))
    except ValueError as err:
        print(f"diffill train: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(folder)
    return EXIT_OK


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    g.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    g.add_argument(
        "--preset",
        default="balanced",
        choices=["quality", "balanced", "fast"],
        help="speed against care (default balanced); --steps/--threshold override it",
    )
    g.add_argument("--steps", type=int, help="fixed number of denoising steps")
    g.add_argument("--threshold", type=float, help="commit tokens above this confidence")
    g.add_argument("--temperature", type=float, help="0 is greedy (default)")
    g.add_argument("--seed", type=int, help="seed for sampling (default 0)")
    g.add_argument(
        "--max-context",
        type=int,
        default=1024,
        metavar="TOKENS",
        help="context tokens shown to the model (default 1024)",
    )


def _sampler_options(args: argparse.Namespace) -> dict:
    """The preset's sampler settings with the explicit options over them."""
    from diffill.model.sampler import PRESETS

    sampler = dict(PRESETS[args.preset])
    sampler.update(
        (k, getattr(args, k))
        for k in ("steps", "threshold", "temperature", "seed")
        if getattr(args, k) is not None
    )
    return sampler


def _edit_options(args: argparse.Namespace, snap: bool = True):
    from diffill.server.engine import EditOptions

    return EditOptions(
        max_context_tokens=args.max_context, snap=snap, sampler=_sampler_options(args)
    )


def _load_model(args: argparse.Namespace):
    from diffill.model import CheckpointError, load

    try:
        return load(args.model, device=args.device)
    except (CheckpointError, ValueError) as err:
        print(f"diffill: cannot load the model: {err}", file=sys.stderr)
        return None


def _load_eval_model(args: argparse.Namespace):
    """The diffusion model, or the autoregressive peer when the folder holds one."""
    from diffill.model import CheckpointError, autoregressive, checkpoint

    if args.model is not None:
        try:
            config = checkpoint.read_config(Path(args.model))
        except CheckpointError as err:
            print(f"diffill: cannot load the model: {err}", file=sys.stderr)
            return None
        if config.get("model_type") == checkpoint.AR_MODEL_TYPE:
            try:
                return autoregressive.load(args.model, device=args.device)
            except (CheckpointError, ValueError) as err:
                print(f"diffill: cannot load the model: {err}", file=sys.stderr)
                return None
    return _load_model(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from diffill.model import evaluation

    try:
        if args.tasks:
            tasks = evaluation.read_tasks(args.tasks)
        else:
            tasks = evaluation.corpus_tasks(args.corpus, per_kind=args.n, seed=args.seed or 0)
    except (OSError, ValueError) as err:
        print(f"diffill eval: {err}", file=sys.stderr)
        return EXIT_FAILED
    if args.write_tasks:
        evaluation.write_tasks(tasks, args.write_tasks)
    infiller = _load_eval_model(args)
    if infiller is None:
        return EXIT_FAILED
    sampler = _sampler_options(args)
    if hasattr(infiller, "max_context_tokens"):
        infiller.max_context_tokens = args.max_context
    results = evaluation.evaluate(
        infiller, tasks, batch_size=args.batch_size, length=args.length, **sampler
    )
    fixed = None
    if args.fixed_length:
        fixed = evaluation.evaluate(
            infiller, tasks, batch_size=args.batch_size, length=args.fixed_length, **sampler
        )
    meta = {
        "model": str(infiller.folder),
        "model_type": getattr(infiller, "model_type", "diffill-mdlm"),
        "parameters": infiller.num_parameters,
        "model_bytes": sum(p.stat().st_size for p in infiller.folder.glob("*"))
        if infiller.folder
        else None,
        "sampler": sampler,
        "length": args.length,
        "source": args.tasks or list(args.corpus),
        "seed": args.seed or 0,
        "max_context_tokens": args.max_context,
    }
    rep = evaluation.report(results, meta)
    if fixed is not None:
        rep["length_head"] = evaluation.length_head_report(results, fixed, args.fixed_length)
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1) + "\n")
    _print_eval_table(rep["summary"])
    if fixed is not None:
        _print_length_table(rep["length_head"])
    return EXIT_OK


def _print_length_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    n = report["fixed_length"]
    table = Table(title=f"length head: predicted length against a fixed {n}-token canvas")
    cols = ["tasks", "within_0", "within_2", "exact_predicted", "exact_fixed", "gain"]
    table.add_column("set")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for kind, row in report["sets"].items():
        table.add_row(kind, *(str(row[c]) for c in cols))
    # Piped output would be cut to 80 columns and the figures truncated.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _print_eval_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="diffill eval")
    cols = [
        "tasks",
        "exact_match",
        "edit_similarity",
        "parse_rate",
        "pass_at_1",
        "length_acc_exact",
        "length_acc_within_2",
        "mean_steps",
        "mean_seconds",
    ]
    table.add_column("set")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    for kind, row in summary.items():
        table.add_row(kind, *("-" if row[c] is None else str(row[c]) for c in cols))
    # Piped output would be cut to 80 columns and the figures truncated.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _parse_selection(doc, args: argparse.Namespace) -> tuple[int, int]:
    """Offsets of the selection given as 1-based --line, --range or --at."""
    from diffill.server.document import Encoding, Position

    def offset(line: int, column: int) -> int:
        if line < 1 or column < 1:
            raise ValueError("lines and columns start at 1")
        if line > doc.line_count():
            raise ValueError(f"line {line} is past the end of the file ({doc.line_count()} lines)")
        return doc.offset_at(Position(line - 1, column - 1), Encoding.UTF32)

    def pair(s: str) -> tuple[int, int]:
        line, _, col = s.partition(":")
        return int(line), int(col)

    if args.line:
        first, _, last = args.line.partition("-")
        a, b = int(first), int(last or first)
        if b < a:
            raise ValueError(f"--line {args.line}: the end comes before the start")
        start = offset(a, 1)
        end = offset(b, 1) + len(doc.line_text(b - 1))
        return start, end
    if args.range:
        left, _, right = args.range.partition("-")
        start, end = offset(*pair(left)), offset(*pair(right))
        if end < start:
            raise ValueError(f"--range {args.range}: the end comes before the start")
        return start, end
    at = offset(*pair(args.at))
    return at, at


def cmd_fill(args: argparse.Namespace) -> int:
    from diffill.server import engine, refactor
    from diffill.server.document import Document, DocumentError

    path = args.file
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        print(f"diffill fill: cannot read {path}: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        doc = Document.from_bytes(data, path)
        lang = engine.language_of(path, args.language)
    except DocumentError as err:
        print(f"diffill fill: {err}", file=sys.stderr)
        return EXIT_FAILED
    except engine.EditFailure as failure:
        print(f"diffill fill: {path}: {failure}", file=sys.stderr)
        return EXIT_FAILED
    try:
        start, end = _parse_selection(doc, args)
    except ValueError as err:
        print(f"diffill fill: {err}", file=sys.stderr)
        return EXIT_USAGE
    infiller = _load_model(args)
    if infiller is None:
        return EXIT_FAILED
    request = engine.EditRequest(engine.Intent(args.intent), start, end, args.strength)
    result = engine.edit(doc, lang, request, infiller, _edit_options(args, not args.no_snap))
    new_doc = doc.apply(result.edits) if result.changed else doc
    if args.json:
        print(json.dumps(_span_json(path, doc, result)))
    elif result.changed and not args.write:
        sys.stdout.write(refactor.unified_diff(path, doc.text, new_doc.text))
    if not result.changed:
        if not args.json:
            print(f"diffill fill: {path}: {result.status.value}: {result.reason}", file=sys.stderr)
        ok = result.status in (engine.Status.UNCHANGED,)
        return EXIT_OK if ok else EXIT_FAILED
    if args.write:
        digest = hashlib.sha256(data).hexdigest()
        reason = refactor.write_file(path, new_doc.to_bytes(), digest)
        if reason:
            print(f"diffill fill: {path}: {reason}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def _span_json(path: str, doc, result) -> dict:
    """One span as the CLI's JSON schema (documented in the README)."""
    from diffill.server.document import Encoding, edit_positions

    def where(offset: int) -> dict:
        p = doc.position_at(offset, Encoding.UTF32)
        return {"line": p.line + 1, "column": p.character + 1, "offset": offset}

    return {
        "file": path,
        "range": {"start": where(result.start), "end": where(result.end)},
        "original": result.original,
        "replacement": result.replacement if result.changed else result.original,
        "status": result.status.value,
        "reason": result.reason or None,
        "edits": [edit_positions(doc, e) for e in result.edits],
        "steps": result.steps,
        "seconds": round(result.seconds, 4),
    }


def cmd_refactor(args: argparse.Namespace) -> int:
    from diffill.server import refactor
    from diffill.server.refactor import Mode, RefactorError, RefactorOptions

    if args.batch_size < 1 or args.jobs < 1 or (args.limit is not None and args.limit < 0):
        print(
            "diffill refactor: --batch-size and --jobs must be >= 1, --limit >= 0", file=sys.stderr
        )
        return EXIT_USAGE
    if args.select not in ("todo", "errors"):
        from diffill.server import syntax

        try:
            # Validate the query once up front: a typo should not be a skip per file.
            lang = syntax.language_for_name(args.lang or "python")
            syntax.query_targets(syntax.parse(b"", lang), lang, args.select)
        except (ValueError, syntax.UnsupportedLanguage) as err:
            print(f"diffill refactor: bad --select query: {err}", file=sys.stderr)
            return EXIT_USAGE
    mode = (
        Mode.WRITE
        if args.write
        else Mode.CHECK
        if args.check
        else Mode.INTERACTIVE
        if args.interactive
        else Mode.DIFF
    )
    opts = RefactorOptions(
        select=args.select,
        mode=mode,
        language=args.lang,
        jobs=args.jobs,
        batch_size=args.batch_size,
        limit=args.limit,
        force=args.force,
        max_bytes=args.max_bytes,
        edit=_edit_options(args),
    )
    infiller = _load_model(args)
    if infiller is None:
        return EXIT_FAILED
    try:
        with _progress_bar() as progress:
            outcomes, summary = refactor.run(
                args.paths,
                infiller,
                opts,
                progress=progress,
                confirm=_ask if args.interactive else None,
            )
    except RefactorError as err:
        print(f"diffill refactor: {err}", file=sys.stderr)
        return EXIT_FAILED
    for out in outcomes:
        if args.json:
            doc = out.scan.doc
            for span in sorted(out.spans, key=lambda s: s.start):
                print(json.dumps(_span_json(out.path, doc, span.result)))
            if out.scan.skipped:
                print(
                    json.dumps({"file": out.path, "status": "skipped", "reason": out.scan.skipped})
                )
        elif out.changed and mode in (Mode.DIFF, Mode.CHECK):
            sys.stdout.write(refactor.unified_diff(out.path, out.scan.doc.text, out.new_text))
        if out.error:
            print(f"diffill refactor: {out.path}: {out.error}", file=sys.stderr)
    _print_summary(summary)
    if summary.files_failed:
        return EXIT_FAILED
    if mode is Mode.CHECK and summary.files_changed:
        return EXIT_FAILED
    return EXIT_OK


def _ask(path: str, diff: str) -> str:
    sys.stderr.write(diff)
    while True:
        sys.stderr.write(f"apply to {path}? [y]es/[n]o/[a]ll/[q]uit ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            return "q"
        answer = line.strip().lower()[:1]
        if answer in ("y", "n", "a", "q"):
            return answer


class _progress_bar:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import Progress

        self._bar = Progress(console=Console(stderr=True), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("denoising", total=None)

        def update(stage: str, done: int, total: int) -> None:
            self._bar.update(self._task, description=stage, completed=done, total=total)

        return update

    def __exit__(self, *exc) -> None:
        if hasattr(self, "_bar"):
            self._bar.stop()


def _print_summary(s) -> None:
    print(
        f"diffill refactor: {s.files_scanned} files scanned ({s.files_skipped} skipped), "
        f"{s.spans_found} spans found: {s.changed} changed, {s.unchanged} unchanged, "
        f"{s.rejected} rejected, {s.errors} failed; {s.files_changed} files changed"
        + (f", {s.files_written} written" if s.files_written else "")
        + (f", {s.files_failed} files failed" if s.files_failed else ""),
        file=sys.stderr,
    )
    for reason, n in sorted(s.reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n:>5}  {reason}", file=sys.stderr)


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host, int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    from diffill.model import load
    from diffill.server.lsp import build_server, serve
    from diffill.server.protocol import Settings

    # The model loads after the client connects (on the server's model thread), so a
    # folder that does not load is reported to the editor instead of killing the server.
    server = build_server(load, settings=Settings(model=args.model, device=args.device))
    try:
        serve(server, tcp=args.tcp, log_file=args.log_file)
    except OSError as err:
        print(f"diffill serve: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffill",
        description="Code editing with a masked diffusion language model.",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"diffill {_versions()['diffill']}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser("info", help="versions, model folder, parameter count and device")
    info.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    info.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)

    tr = sub.add_parser("train", help="train a model on source trees (resumable)")
    tr.add_argument(
        "--corpus",
        nargs="+",
        required=True,
        metavar="DIR",
        help="folders of Python source to train on, or one corpus folder built before",
    )
    tr.add_argument("--out", required=True, help="run folder (resumed when it exists)")
    tr.add_argument("--size", default="small", choices=["tiny", "small", "base"])
    budget = tr.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="train for this long")
    budget.add_argument("--steps", type=int, help="train for this many optimizer steps")
    budget.add_argument(
        "--tokens", type=float, help="train on this many tokens (noisy copies included)"
    )
    tr.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--seq-tokens", type=int, default=512)
    tr.add_argument("--lr", type=float, default=1.5e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--tokenizer", help="reuse this tokenizer.json instead of training one")
    tr.add_argument(
        "--objective",
        default="diffusion",
        choices=["diffusion", "fim-ar", "block-ar", "block-mixed", "block-diffusion"],
        help="diffusion (diffill's masked-diffusion model), fim-ar (the autoregressive peer "
        "it is measured against), or the block-diffusion model's phases: block-ar (causal "
        "FIM LM), block-mixed (AR plus block diffusion), block-diffusion (diffusion only)",
    )
    tr.add_argument("--block-size", type=int, default=32, help="block model: tokens per block")
    tr.add_argument("--fim-order", default="spm", choices=["spm", "psm"], help="block model")
    tr.add_argument(
        "--extra-block-share",
        type=float,
        default=0.15,
        help="block model: share of context tokens that also get noisy blocks",
    )
    tr.add_argument("--init", help="start from this model folder's weights (a new run)")
    tr.add_argument("--warmup-steps", type=int, default=200)
    tr.add_argument(
        "--plain-share", type=float, default=0.2, help="share of examples without a gap"
    )
    tr.add_argument(
        "--workers", type=int, default=0, help="processes building batches (default 0: none)"
    )
    tr.add_argument(
        "--save-minutes", type=float, default=10.0, help="checkpoint interval (default 10)"
    )
    tr.add_argument(
        "--corpus-dir",
        help="where the built corpus goes (default OUT/corpus); --corpus may name a built one",
    )
    tr.set_defaults(func=cmd_train)

    fill = sub.add_parser(
        "fill",
        help="edit one span of one file (fill, rewrite, fix or complete)",
        description="Edit one span of FILE. Lines and columns are 1-based; columns count "
        "characters and a range's end column is exclusive. Prints a unified diff unless "
        "--write or --json.",
    )
    fill.add_argument("file")
    where = fill.add_mutually_exclusive_group(required=True)
    where.add_argument("--line", metavar="N[-M]", help="whole lines N to M")
    where.add_argument("--range", metavar="L1:C1-L2:C2", help="a character range")
    where.add_argument("--at", metavar="L:C", help="a cursor position (empty selection)")
    fill.add_argument("--intent", choices=["fill", "rewrite", "fix", "complete"], default="fill")
    fill.add_argument(
        "--strength",
        type=float,
        default=1.0,
        help="rewrite: share of the span re-noised, in (0, 1] (default 1)",
    )
    fill.add_argument(
        "--no-snap", action="store_true", help="do not grow the selection to whole statements"
    )
    fill.add_argument("--language", help="override the language found from the file name")
    fill.add_argument("--write", action="store_true", help="change the file")
    fill.add_argument("--json", action="store_true", help="print one JSON object")
    _add_model_options(fill)
    fill.set_defaults(func=cmd_fill)

    ref = sub.add_parser(
        "refactor",
        help="batch edits over files and folders",
        description="Find spans in every file under PATH (respecting .gitignore) and "
        "rewrite them in batches. Dry run by default: a unified diff on stdout.",
    )
    ref.add_argument("paths", nargs="+", metavar="PATH")
    ref.add_argument(
        "--select",
        required=True,
        metavar="todo|errors|QUERY",
        help="todo: placeholder bodies; errors: syntax errors; anything else: "
        "a tree-sitter query whose @target capture is the span",
    )
    ref.add_argument("--lang", help="only files of this language")
    mode = ref.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="change the files")
    mode.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when something would change"
    )
    mode.add_argument("--interactive", action="store_true", help="ask y/n/a/q per file")
    ref.add_argument("--json", action="store_true", help="one JSON object per span")
    ref.add_argument("--jobs", type=int, default=1, help="processes for parsing (default 1)")
    ref.add_argument("--batch-size", type=int, default=8, help="spans per model batch")
    ref.add_argument("--limit", type=int, help="at most this many spans")
    ref.add_argument(
        "--force", action="store_true", help="write even when the git tree has uncommitted changes"
    )
    ref.add_argument(
        "--max-bytes", type=int, default=1_000_000, help="skip larger files (default 1000000)"
    )
    _add_model_options(ref)
    ref.set_defaults(func=cmd_refactor)

    ev = sub.add_parser("eval", help="score the model on infilling tasks")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--tasks",
        metavar="FILE.jsonl",
        help="tasks {task_id, prompt, suffix, canonical_solution, test?, entry_point?}",
    )
    src.add_argument(
        "--corpus",
        nargs="+",
        metavar="DIR",
        help="build single-line, multi-line and random-span tasks from the "
        "held-out files under DIR (source trees, or one built corpus folder)",
    )
    ev.add_argument("--n", type=int, default=100, help="tasks per set with --corpus")
    ev.add_argument("--length", type=int, help="fixed canvas length instead of predicted")
    ev.add_argument(
        "--fixed-length",
        type=int,
        metavar="N",
        help="also decode every task on a fixed N-token canvas and report what the length "
        "head gains over it",
    )
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--json", metavar="OUT", help="write figures and per-task results here")
    ev.add_argument(
        "--write-tasks", metavar="FILE.jsonl", help="also save the tasks (to rerun them exactly)"
    )
    _add_model_options(ev)
    ev.set_defaults(func=cmd_eval)

    srv = sub.add_parser(
        "serve",
        help="run the Language Server (stdio by default)",
        description="Speak LSP over stdio, or over TCP with --tcp. Settings the editor sends "
        "under `diffill` override --model and --device.",
    )
    srv.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="listen on TCP")
    srv.add_argument("--model", default=None, help="model folder (default: the shipped one)")
    srv.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    srv.add_argument("--log-file", metavar="PATH", help="also write the server's log here")
    srv.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
