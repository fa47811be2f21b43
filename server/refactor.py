"""Batch work over files: find spans, run them through the model in batches, and show,
check or write the results safely.

Layers: `scan_file` (bytes -> spans, pure, runs in worker processes), the plan (each
span's target range, overlaps dropped, cut into batches: no model needed), a `Runner`
that edits the batches (`LocalRunner` here; `cluster.RayRunner` on a Ray cluster; both
run `edit_spans` on each batch, so they give the same edits), and `files.write_file`
(hash-checked atomic replace). One bad file is reported and skipped; it never aborts the
run. Each file is parsed once (in the main process; with --jobs the workers' trees cannot
travel back, so the main process parses each file with spans once more) and its edits are
applied once.
"""

from __future__ import annotations

import hashlib
import os
import stat
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from diffill.model import Backend
from diffill.model.training.sources import is_generated  # shared with the corpus filter

from . import syntax
from .document import Document, DocumentError
from .editing import engine
from .editing.parsed import ParsedDocument
from .editing.request import EditFailure, EditOptions, EditRequest, EditResult, Intent, Status
from .editing.targets import target_span
from .files import (
    NotRegularFile,
    dirty_git_files,
    iter_files,
    read_regular,
    symlink_skip,
    unified_diff,
    write_file,
)

DEFAULT_MAX_BYTES = 1_000_000
# A batch run can wait longer for one file than an editor: past this, the file is skipped.
PARSE_TIMEOUT_S = 10.0


class Mode(str, Enum):
    DIFF = "diff"
    CHECK = "check"
    WRITE = "write"
    INTERACTIVE = "interactive"


@dataclass(frozen=True)
class RefactorOptions:
    select: str  # "todo", "errors" or a tree-sitter query with an @target capture
    mode: Mode = Mode.DIFF
    language: str | None = None  # only files of this language
    jobs: int = 1
    batch_size: int = 8
    limit: int | None = None  # at most this many spans in all
    force: bool = False  # write even when the git tree has uncommitted changes
    max_bytes: int = DEFAULT_MAX_BYTES
    parse_timeout_s: float = PARSE_TIMEOUT_S
    edit: EditOptions = field(default_factory=EditOptions)


@dataclass
class SpanOutcome:
    path: str
    start: int  # offsets into the file's Document.text
    end: int
    result: EditResult


@dataclass
class FileScan:
    path: str
    digest: str = ""  # sha256 of the bytes read
    doc: Document | None = None
    language: str | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)
    skipped: str | None = None  # the reason, when the file is not worked on


@dataclass
class FileOutcome:
    path: str
    scan: FileScan
    spans: list[SpanOutcome] = field(default_factory=list)
    new_text: str | None = None  # the file after its changed spans
    written: bool = False
    error: str | None = None

    @property
    def changed(self) -> bool:
        return (
            self.new_text is not None
            and self.scan.doc is not None
            and (self.new_text != self.scan.doc.text)
        )


@dataclass
class Summary:
    files_scanned: int = 0
    files_skipped: int = 0
    spans_found: int = 0
    spans: Counter[Status] = field(default_factory=Counter)  # edited spans by outcome
    files_changed: int = 0
    files_written: int = 0
    files_failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    skipped_files: dict[str, list[str]] = field(default_factory=dict)  # reason -> paths

    @property
    def changed(self) -> int:
        return self.spans[Status.CHANGED]

    @property
    def unchanged(self) -> int:
        return self.spans[Status.UNCHANGED]

    @property
    def rejected(self) -> int:
        return self.spans[Status.REJECTED]

    @property
    def errors(self) -> int:
        """Spans that failed: a bad request, an unsupported language, a model error."""
        return self.spans.total() - self.changed - self.unchanged - self.rejected


class RefactorError(Exception):
    """A condition that stops the run before any work (usage or a dirty git tree)."""


# -- scanning one file -----------------------------------------------------------------


def find_spans(parsed: ParsedDocument, select: str) -> list[tuple[int, int]]:
    """Document ranges the selection names (placeholders, syntax errors or @target)."""
    tree, lang, to_str = parsed.tree, parsed.lang, parsed.doc.offset_from_byte
    if select == "todo":
        ranges = [(p.start, p.end) for p in syntax.placeholders(tree, lang)]
    elif select == "errors":
        ranges = [syntax.fix_span(tree, lang, issue) for issue in parsed.issues]
    else:
        ranges = syntax.query_targets(tree, lang, select)
    return sorted({(to_str(a), to_str(b)) for a, b in ranges})


def scan_file(
    path: str,
    select: str,
    language: str | None,
    max_bytes: int,
    explicit: bool = False,
    parse_timeout_s: float | None = PARSE_TIMEOUT_S,
) -> FileScan:
    """Read one file and find its spans; every problem becomes a skip reason."""
    return _scan(path, select, language, max_bytes, explicit, parse_timeout_s)[0]


def _scan(
    path: str,
    select: str,
    language: str | None,
    max_bytes: int,
    explicit: bool,
    parse_timeout_s: float | None = PARSE_TIMEOUT_S,
) -> tuple[FileScan, ParsedDocument | None]:
    """`scan_file`, and the file's parse when it has one."""
    scan = FileScan(path)
    try:
        lang = syntax.language_for_path(path)
    except syntax.UnsupportedLanguage as err:
        scan.skipped = str(err) if explicit else "unsupported language"
        return scan, None
    if language is not None and lang.name != syntax.language_for_name(language).name:
        scan.skipped = f"not {language}"
        return scan, None
    scan.language = lang.name
    try:
        st = os.stat(path)  # a link named on the command line is edited through
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"not a regular file ({_kind(st.st_mode)})")
        if st.st_size > max_bytes:
            scan.skipped = f"huge file ({st.st_size:,} bytes > {max_bytes:,})"
            return scan, None
        data = read_regular(path)  # never blocks: a FIFO put there meanwhile is refused
    except NotRegularFile as err:
        scan.skipped = str(err)
        return scan, None
    except OSError as err:
        scan.skipped = f"cannot read: {err.strerror or err}"
        return scan, None
    scan.digest = hashlib.sha256(data).hexdigest()
    try:
        doc = Document.from_bytes(data, path)
    except DocumentError as err:
        scan.skipped = str(err).removeprefix(f"{path}: ")
        return scan, None
    if is_generated(doc.text):
        scan.skipped = "generated file"
        return scan, None
    scan.doc = doc
    try:
        parsed = ParsedDocument.parse(doc, lang, timeout_s=parse_timeout_s)
    except syntax.ParseTimeout as err:
        scan.skipped, scan.doc = str(err), None
        return scan, None
    try:
        scan.spans = find_spans(parsed, select)
    except ValueError as err:
        scan.skipped = f"bad selection: {err}"
    return scan, parsed if scan.spans else None  # only trees the run will use stay in memory


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))
    return next((name for test, name in kinds if test(mode)), "a device")


def _scan_all(
    paths: list[Path], opts: RefactorOptions, explicit: set[Path]
) -> list[tuple[FileScan, ParsedDocument | None]]:
    """Every file's scan, with its parse when it was scanned in this process (a tree
    cannot be pickled back from a worker). A symlink found inside a folder is not read:
    its target is edited under its own name, or lies outside what was asked for."""
    links = {p: symlink_skip(p, paths) for p in paths if p.is_symlink() and p not in explicit}
    todo = [p for p in paths if p not in links]
    args = [
        (str(p), opts.select, opts.language, opts.max_bytes, p in explicit, opts.parse_timeout_s)
        for p in todo
    ]
    scanned: list[tuple[FileScan, ParsedDocument | None]]
    if opts.jobs > 1 and len(args) > 1:
        with ProcessPoolExecutor(max_workers=opts.jobs) as pool:
            scanned = [(s, None) for s in pool.map(scan_file, *zip(*args), chunksize=8)]
    else:
        scanned = [_scan(*a) for a in args]
    found: dict[str, tuple[FileScan, ParsedDocument | None]] = {s.path: (s, t) for s, t in scanned}
    for link, why in links.items():
        found[str(link)] = (FileScan(str(link), skipped=why), None)
    return [found[str(p)] for p in paths]


# -- editing batches --------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSpan:
    """One span of the plan: the range of `path`'s document that the model rewrites."""

    path: str
    start: int
    end: int


def edit_spans(
    spans: Sequence[tuple[ParsedDocument, int, int]],
    intent: Intent,
    backend: Backend,
    options: EditOptions,
) -> list[EditResult]:
    """One batch: every span prepared (one the model cannot take, such as a span too long,
    gets its failure), the rest through one model call, each result validated against its
    whole document. The local path and every cluster actor run exactly this on the same
    batches, which is why they give the same edits."""
    results: list[EditResult | None] = []
    ready: list[tuple[int, engine.Prepared]] = []
    for parsed, start, end in spans:
        try:
            prepared = engine.prepare(
                parsed, EditRequest(intent, start, end), backend, options, span=(start, end)
            )
        except EditFailure as failure:
            results.append(failure.result)
            continue
        ready.append((len(results), prepared))
        results.append(None)
    try:
        edited = engine.edit_batch([p for _, p in ready], backend, options)
    except Exception as err:  # one failing batch must not lose the rest
        reason = f"model failed: {err}"
        edited = [EditResult(Status.ERROR, reason, p.start, p.end) for _, p in ready]
    for (i, _), result in zip(ready, edited):
        results[i] = result
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


# A plan's batches of spans; the document of every path they name; what a Runner yields:
# (batch index, one result per span of that batch).
Batches = Sequence[Sequence[PlannedSpan]]
Files = Mapping[str, ParsedDocument]
BatchResults = Iterator[tuple[int, list[EditResult]]]


class Runner(ABC):
    """Edits the plan's batches; results come back as batches finish."""

    @abstractmethod
    def edit(
        self, batches: Batches, files: Files, intent: Intent, options: EditOptions
    ) -> BatchResults:
        """(batch index, one result per span of that batch) for every batch, in any order;
        `files` holds the document of every path the batches name."""


class LocalRunner(Runner):
    """The batches in order, through a model in this process."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def edit(
        self, batches: Batches, files: Files, intent: Intent, options: EditOptions
    ) -> BatchResults:
        for i, batch in enumerate(batches):
            spans = [(files[s.path], s.start, s.end) for s in batch]
            yield i, edit_spans(spans, intent, self.backend, options)


# -- the run ---------------------------------------------------------------------------


def _intent_for(select: str) -> Intent:
    return {"todo": Intent.FILL, "errors": Intent.FIX}.get(select, Intent.REWRITE)


SpanCallback = Callable[["FileOutcome", "SpanOutcome"], None]


def run(
    paths: list[str],
    model: Backend | Runner,
    opts: RefactorOptions,
    progress: Callable[[str, int, int], None] | None = None,
    confirm: Callable[[str, str], str] | None = None,
    on_span: SpanCallback | None = None,
) -> tuple[list[FileOutcome], Summary]:
    """Scan, edit in batches and (per mode) write. Returns per-file outcomes and totals.

    model: a backend, run here, or a `Runner` (a cluster's model actors).
    progress(stage, done, total) reports progress; confirm(path, diff) answers the
    interactive question with "y", "n", "a" (all remaining) or "q" (stop); on_span(file,
    span) is told each span's result as soon as it is known.
    """
    runner = model if isinstance(model, Runner) else LocalRunner(model)
    files = list(iter_files(paths))
    explicit = {Path(p) for p in paths if not Path(p).is_dir()}
    if opts.mode in (Mode.WRITE, Mode.INTERACTIVE) and not opts.force:
        dirty = dirty_git_files(files)
        if dirty:
            raise RefactorError(
                f"the git tree has uncommitted changes ({', '.join(dirty[:3])}"
                f"{', ...' if len(dirty) > 3 else ''}); commit or stash them, or use --force"
            )
    scans = _scan_all(files, opts, explicit)
    summary = Summary(files_scanned=len(scans))
    outcomes = {s.path: FileOutcome(s.path, s) for s, _ in scans}

    def record(path: str, start: int, end: int, result: EditResult) -> None:
        out = outcomes[path]
        _record(out, start, end, result, summary)
        if on_span is not None:
            on_span(out, out.spans[-1])

    # The plan needs no model: target ranges, overlaps and the batches are fixed before
    # any span is sent, so every runner edits the same batches.
    intent = _intent_for(opts.select)
    planned: list[PlannedSpan] = []
    documents: dict[str, ParsedDocument] = {}
    budget = opts.limit
    for scan, parsed in scans:
        if parsed is None and scan.spans and not scan.skipped:
            assert scan.doc is not None and scan.language is not None
            lang = syntax.language_for_name(scan.language)
            try:
                parsed = ParsedDocument.parse(scan.doc, lang, timeout_s=opts.parse_timeout_s)
            except syntax.ParseTimeout as err:
                scan.skipped, scan.doc = str(err), None
        if scan.skipped:
            summary.files_skipped += 1
            summary.reasons[scan.skipped] = summary.reasons.get(scan.skipped, 0) + 1
            summary.skipped_files.setdefault(scan.skipped, []).append(scan.path)
            continue
        assert scan.doc is not None and scan.language is not None
        taken: list[tuple[int, int]] = []
        for a, b in scan.spans:
            if budget is not None and budget <= 0:
                break
            summary.spans_found += 1
            assert parsed is not None
            try:
                start, end = target_span(parsed, EditRequest(intent, a, b), opts.edit.snap)
            except EditFailure as failure:
                record(scan.path, a, b, failure.result)
                continue
            if any(start < d and c < end for c, d in taken) or (start, end) in taken:
                overlap = EditResult(Status.UNCHANGED, "overlaps another span", start, end)
                record(scan.path, start, end, overlap)
                continue
            taken.append((start, end))
            planned.append(PlannedSpan(scan.path, start, end))
            documents[scan.path] = parsed
            if budget is not None:
                budget -= 1

    batches = [planned[i : i + opts.batch_size] for i in range(0, len(planned), opts.batch_size)]
    done = 0
    if progress:
        progress("denoising", 0, len(planned))
    for i, results in runner.edit(batches, documents, intent, opts.edit):
        for span, result in zip(batches[i], results):
            record(span.path, span.start, span.end, result)
        done += len(batches[i])
        if progress:
            progress("denoising", done, len(planned))

    accept_all = False
    for path in sorted(outcomes):
        out = outcomes[path]
        doc = out.scan.doc
        changes = [s for s in out.spans if s.result.changed]
        if doc is None or not changes:
            continue
        edits = [e for s in sorted(changes, key=lambda s: s.start) for e in s.result.edits]
        try:
            new_doc = doc.apply(edits)
        except DocumentError as err:
            out.error = f"cannot combine edits: {err}"
            summary.files_failed += 1
            continue
        out.new_text = new_doc.text
        summary.files_changed += 1
        if opts.mode is Mode.INTERACTIVE and not accept_all:
            answer = confirm(path, unified_diff(path, doc.text, out.new_text)) if confirm else "n"
            if answer == "q":
                out.new_text = None
                break
            if answer == "a":
                accept_all = True
            elif answer != "y":
                out.new_text = None
                continue
        if opts.mode in (Mode.WRITE, Mode.INTERACTIVE):
            reason = write_file(path, new_doc.to_bytes(), out.scan.digest)
            if reason:
                out.error = reason
                summary.files_failed += 1
            else:
                out.written = True
                summary.files_written += 1
    return [outcomes[p] for p in sorted(outcomes)], summary


def _record(out: FileOutcome, start: int, end: int, result: EditResult, summary: Summary) -> None:
    out.spans.append(SpanOutcome(out.path, start, end, result))
    summary.spans[result.status] += 1
    if result.reason and result.status is not Status.CHANGED:
        summary.reasons[result.reason] = summary.reasons.get(result.reason, 0) + 1
