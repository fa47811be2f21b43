"""The editing commands: `fill` (one span of one file) and `refactor` (batch edits over
files and folders), layers over the engine and `refactor`."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .model_options import load_backend, sampler_settings

if TYPE_CHECKING:  # the modules themselves load in the commands: --help stays instant
    from diffill.model import Backend
    from diffill.server.document import Document
    from diffill.server.editing.request import EditOptions, EditResult
    from diffill.server.refactor import FileOutcome, Runner, SpanOutcome, Summary


def _edit_options(args: argparse.Namespace, snap: bool = True) -> EditOptions:
    from diffill.server.editing.request import EditOptions

    return EditOptions(
        max_context_tokens=args.max_context, snap=snap, sampler=sampler_settings(args)
    )


def _parse_selection(doc: Document, args: argparse.Namespace) -> tuple[int, int]:
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
    from diffill.server import files
    from diffill.server.document import Document, DocumentError
    from diffill.server.editing import engine
    from diffill.server.editing.parsed import ParsedDocument
    from diffill.server.editing.request import EditFailure, EditRequest, Intent, Status

    path = args.file
    try:
        data = files.read_regular(path)  # never blocks on a FIFO
    except OSError as err:
        print(f"diffill fill: cannot read {path}: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED
    try:
        doc = Document.from_bytes(data, path)
        lang = engine.language_of(path, args.language)
    except DocumentError as err:
        print(f"diffill fill: {err}", file=sys.stderr)
        return EXIT_FAILED
    except EditFailure as failure:
        print(f"diffill fill: {path}: {failure}", file=sys.stderr)
        return EXIT_FAILED
    try:
        start, end = _parse_selection(doc, args)
    except ValueError as err:
        print(f"diffill fill: {err}", file=sys.stderr)
        return EXIT_USAGE
    backend = load_backend(args)
    if backend is None:
        return EXIT_FAILED
    request = EditRequest(Intent(args.intent), start, end, args.strength)
    options = _edit_options(args, not args.no_snap)
    from diffill.server import syntax
    from diffill.server.refactor import PARSE_TIMEOUT_S

    try:
        parsed = ParsedDocument.parse(doc, lang, timeout_s=PARSE_TIMEOUT_S)
    except syntax.ParseTimeout as err:
        print(f"diffill fill: {path}: {err}", file=sys.stderr)
        return EXIT_FAILED
    result = engine.edit(parsed, request, backend, options)
    new_doc = doc.apply(result.edits) if result.changed else doc
    if args.json:
        print(json.dumps(_span_json(path, doc, result)))
    elif result.changed and not args.write:
        sys.stdout.write(files.unified_diff(path, doc.text, new_doc.text))
    if not result.changed:
        if not args.json:
            print(f"diffill fill: {path}: {result.status.value}: {result.reason}", file=sys.stderr)
        ok = result.status in (Status.UNCHANGED,)
        return EXIT_OK if ok else EXIT_FAILED
    if args.write:
        digest = hashlib.sha256(data).hexdigest()
        reason = files.write_file(path, new_doc.to_bytes(), digest)
        if reason:
            print(f"diffill fill: {path}: {reason}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def _span_json(path: str, doc: Document, result: EditResult) -> dict:
    """One span as the CLI's JSON schema (documented in docs/cli.md)."""
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
        "edits": [edit_positions(doc, e) for e in result.edits] if result.changed else [],
        "steps": result.steps,
        "seconds": round(result.seconds, 4),
    }


def cmd_refactor(args: argparse.Namespace) -> int:
    from diffill.server import files, refactor
    from diffill.server.refactor import Mode, RefactorError, RefactorOptions

    if args.batch_size < 1 or args.jobs < 1 or (args.limit is not None and args.limit < 0):
        print(
            "diffill refactor: --batch-size and --jobs must be >= 1, --limit >= 0", file=sys.stderr
        )
        return EXIT_USAGE
    if args.ray_actors is not None and (args.ray is None or args.ray_actors < 1):
        print("diffill refactor: --ray-actors needs --ray and is >= 1", file=sys.stderr)
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

    def print_span(out: FileOutcome, span: SpanOutcome) -> None:
        assert out.scan.doc is not None  # a file without a document has no spans
        print(json.dumps(_span_json(out.path, out.scan.doc, span.result)), flush=True)

    try:
        with _refactor_model(args) as model, _progress_bar() as progress:
            if model is None:
                return EXIT_FAILED
            outcomes, summary = refactor.run(
                args.paths,
                model,
                opts,
                progress=progress,
                confirm=_ask if args.interactive else None,
                on_span=print_span if args.json else None,
            )
    except RefactorError as err:
        print(f"diffill refactor: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        # Files are written only after every span is back, each by one atomic replace:
        # each file is untouched or fully written.
        print("diffill refactor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    for out in outcomes:
        doc = out.scan.doc
        if args.json:
            if out.scan.skipped:  # its spans were printed as they came
                skipped = {"file": out.path, "status": "skipped", "reason": out.scan.skipped}
                print(json.dumps(skipped))
        elif out.changed and mode in (Mode.DIFF, Mode.CHECK):
            assert doc is not None and out.new_text is not None  # what `changed` means
            sys.stdout.write(files.unified_diff(out.path, doc.text, out.new_text))
        if out.error:
            print(f"diffill refactor: {out.path}: {out.error}", file=sys.stderr)
    _print_summary(summary)
    if summary.files_failed:
        return EXIT_FAILED
    if mode is Mode.CHECK and summary.files_changed:
        return EXIT_FAILED
    return EXIT_OK


def actor_model(model: str | None) -> str | None:
    """What `--model` names to model actors on other nodes: None for the shipped model, a
    pulled model's name as it is (each node finds it in its own Hugging Face cache), else
    the folder as an absolute path."""
    from diffill.model import hub

    if model in (None, "default"):
        return None
    if not Path(model).exists() and hub.find(model) is not None:
        return model
    return str(Path(model).resolve())


@contextmanager
def _refactor_model(args: argparse.Namespace) -> Iterator[Backend | Runner | None]:
    """What a refactor runs on: the model loaded here, or with --ray the model actors of
    a Ray cluster (this process then loads no model); None after saying why not."""
    if args.ray is None:
        yield load_backend(args)
        return
    from diffill.server import cluster  # Ray itself is imported when it connects

    spec = cluster.ModelSpec(actor_model(args.model))
    with ExitStack() as stack:
        runner: Runner | None = None
        try:
            runner = stack.enter_context(
                cluster.open_runner(
                    args.ray, actors=args.ray_actors, model=spec, say=_say_on_stderr
                )
            )
        except cluster.ClusterError as err:
            print(f"diffill refactor: {err}", file=sys.stderr)
        yield runner


def _say_on_stderr(message: str) -> None:
    print(f"diffill refactor: {message}", file=sys.stderr)


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


def _print_summary(s: Summary) -> None:
    print(
        f"diffill refactor: {s.files_scanned} files scanned ({s.files_skipped} skipped), "
        f"{s.spans_found} spans found: {s.changed} changed, {s.unchanged} unchanged, "
        f"{s.rejected} rejected, {s.errors} failed; {s.files_changed} files changed"
        + (f", {s.files_written} written" if s.files_written else "")
        + (f", {s.files_failed} files failed" if s.files_failed else ""),
        file=sys.stderr,
    )
    for reason, n in sorted(s.reasons.items(), key=lambda kv: -kv[1]):
        named = s.skipped_files.get(reason, [])
        print(f"  {n:>5}  {reason}{_names(named)}", file=sys.stderr)
    if s.skipped_files:
        print("  (--json lists every skipped file with its reason)", file=sys.stderr)


_NAMED = 5  # skipped files named per reason in the summary; --json lists them all


def _names(paths: list[str]) -> str:
    if not paths:
        return ""
    shown = ", ".join(sorted(paths)[:_NAMED])
    more = len(paths) - _NAMED
    return f": {shown}" + (f" and {more} more" if more > 0 else "")
