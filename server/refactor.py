"""Batch work over files: find spans, run them through the model in batches, and show,
check or write the results safely.

Layers: `scan_file` (bytes -> spans, pure, runs in worker processes), `run` (batches
across files through the engine), and `write_file` (hash-checked atomic replace). One bad
file is reported and skipped; it never aborts the run.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from diffill.model import Backend as Infiller
from diffill.model.training.sources import is_generated as _looks_generated

from . import engine, syntax
from .document import Document, DocumentError
from .engine import EditOptions, EditRequest, EditResult, Intent, Status

DEFAULT_MAX_BYTES = 1_000_000
_ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox"}


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
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: int = 0
    files_changed: int = 0
    files_written: int = 0
    files_failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class RefactorError(Exception):
    """A condition that stops the run before any work (usage or a dirty git tree)."""


# -- finding files ---------------------------------------------------------------------


def _git_root(path: Path) -> Path | None:
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(path if path.is_dir() else path.parent),
                "rev-parse",
                "--show-toplevel",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def _git_files(root: Path, under: Path) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files under `under` (git's own .gitignore)."""
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
                str(under.resolve()),
            ],
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if out.returncode != 0:
        return None
    files = [root / p.decode("utf-8", "surrogateescape") for p in out.stdout.split(b"\0") if p]
    return [f for f in files if f.is_file()]


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files under `paths`, respecting .gitignore inside git work trees, sorted, unique."""
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_file():
            found = [p]
        elif p.is_dir():
            root = _git_root(p)
            listed = _git_files(root, p) if root else None
            if listed is None:
                listed = []
                for dirpath, dirnames, filenames in os.walk(p):
                    dirnames[:] = sorted(d for d in dirnames if d not in _ALWAYS_SKIPPED_DIRS)
                    listed += [Path(dirpath) / f for f in filenames]
            found = sorted(listed)
        else:
            found = [p]  # reported as missing by scan_file
        for f in found:
            key = f.resolve() if f.exists() else f
            if key not in seen:
                seen.add(key)
                yield f


# -- scanning one file -----------------------------------------------------------------


def find_spans(doc: Document, lang: syntax.LanguageSpec, select: str) -> list[tuple[int, int]]:
    """Document ranges the selection names (placeholders, syntax errors or @target)."""
    tree = syntax.parse(doc.text.encode("utf-8"), lang)
    to_str = doc.offset_from_byte
    if select == "todo":
        ranges = [(p.start, p.end) for p in syntax.placeholders(tree, lang)]
    elif select == "errors":
        ranges = [syntax.fix_span(tree, lang, issue) for issue in syntax.syntax_issues(tree)]
    else:
        ranges = syntax.query_targets(tree, lang, select)
    return sorted({(to_str(a), to_str(b)) for a, b in ranges})


def scan_file(
    path: str, select: str, language: str | None, max_bytes: int, explicit: bool = False
) -> FileScan:
    """Read one file and find its spans; every problem becomes a skip reason."""
    scan = FileScan(path)
    try:
        lang = syntax.language_for_path(path)
    except syntax.UnsupportedLanguage as err:
        scan.skipped = str(err) if explicit else "unsupported language"
        return scan
    if language is not None and lang.name != syntax.language_for_name(language).name:
        scan.skipped = f"not {language}"
        return scan
    scan.language = lang.name
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            scan.skipped = f"huge file ({size:,} bytes > {max_bytes:,})"
            return scan
        data = Path(path).read_bytes()
    except OSError as err:
        scan.skipped = f"cannot read: {err.strerror or err}"
        return scan
    scan.digest = hashlib.sha256(data).hexdigest()
    try:
        doc = Document.from_bytes(data, path)
    except DocumentError as err:
        scan.skipped = str(err).removeprefix(f"{path}: ")
        return scan
    if _looks_generated(doc.text):
        scan.skipped = "generated file"
        return scan
    scan.doc = doc
    try:
        scan.spans = find_spans(doc, lang, select)
    except ValueError as err:
        scan.skipped = f"bad selection: {err}"
    return scan


def _scan_all(paths: list[Path], opts: RefactorOptions, explicit: set[Path]) -> list[FileScan]:
    args = [(str(p), opts.select, opts.language, opts.max_bytes, p in explicit) for p in paths]
    if opts.jobs > 1 and len(args) > 1:
        with ProcessPoolExecutor(max_workers=opts.jobs) as pool:
            return list(pool.map(scan_file, *zip(*args), chunksize=8))
    return [scan_file(*a) for a in args]


# -- writing ---------------------------------------------------------------------------


def write_file(path: str, new_bytes: bytes, expected_digest: str) -> str | None:
    """Replace `path` atomically, only if it still hashes to `expected_digest`.

    Returns None on success, else the reason nothing was written.
    """
    try:
        current = Path(path).read_bytes()
    except OSError as err:
        return f"cannot re-read before writing: {err.strerror or err}"
    if hashlib.sha256(current).hexdigest() != expected_digest:
        return "changed on disk since it was read; not written"
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".diffill-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(new_bytes)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        return f"cannot write: {err.strerror or err}"
    return None


def dirty_git_files(paths: list[Path]) -> list[str]:
    """Files with uncommitted changes in the git trees that hold `paths`."""
    roots = {r for r in (_git_root(p) for p in paths) if r is not None}
    dirty = []
    for root in sorted(roots):
        out = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
        dirty += [str(root / line[3:]) for line in out.stdout.splitlines() if line.strip()]
    return dirty


# -- the run ---------------------------------------------------------------------------


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def _intent_for(select: str) -> Intent:
    return {"todo": Intent.FILL, "errors": Intent.FIX}.get(select, Intent.REWRITE)


def run(
    paths: list[str],
    infiller: Infiller,
    opts: RefactorOptions,
    progress: Callable[[str, int, int], None] | None = None,
    confirm: Callable[[str, str], str] | None = None,
) -> tuple[list[FileOutcome], Summary]:
    """Scan, edit in batches and (per mode) write. Returns per-file outcomes and totals.

    progress(stage, done, total) reports progress; confirm(path, diff) answers the
    interactive question with "y", "n", "a" (all remaining) or "q" (stop).
    """
    files = list(iter_files(paths))
    explicit = {Path(p) for p in paths if Path(p).is_file()}
    if opts.mode in (Mode.WRITE, Mode.INTERACTIVE) and not opts.force:
        dirty = dirty_git_files(files)
        if dirty:
            raise RefactorError(
                f"the git tree has uncommitted changes ({', '.join(dirty[:3])}"
                f"{', ...' if len(dirty) > 3 else ''}); commit or stash them, or use --force"
            )
    scans = _scan_all(files, opts, explicit)
    summary = Summary(files_scanned=len(scans))
    outcomes = {s.path: FileOutcome(s.path, s) for s in scans}

    prepared: list[tuple[str, engine.Prepared]] = []
    budget = opts.limit
    for scan in scans:
        if scan.skipped:
            summary.files_skipped += 1
            summary.reasons[scan.skipped] = summary.reasons.get(scan.skipped, 0) + 1
            continue
        assert scan.doc is not None and scan.language is not None
        lang = syntax.language_for_name(scan.language)
        taken: list[tuple[int, int]] = []
        for a, b in scan.spans:
            if budget is not None and budget <= 0:
                break
            summary.spans_found += 1
            request = EditRequest(_intent_for(opts.select), a, b)
            try:
                p = engine.prepare(scan.doc, lang, request, infiller, opts.edit)
            except engine.EditFailure as failure:
                _record(outcomes[scan.path], a, b, failure.result, summary)
                continue
            if any(p.start < d and c < p.end for c, d in taken) or (p.start, p.end) in taken:
                _record(
                    outcomes[scan.path],
                    p.start,
                    p.end,
                    EditResult(Status.UNCHANGED, "overlaps another span", p.start, p.end),
                    summary,
                )
                continue
            taken.append((p.start, p.end))
            prepared.append((scan.path, p))
            if budget is not None:
                budget -= 1

    for i in range(0, len(prepared), opts.batch_size):
        chunk = prepared[i : i + opts.batch_size]
        if progress:
            progress("denoising", i, len(prepared))
        try:
            results = engine.edit_batch([p for _, p in chunk], infiller, opts.edit)
        except Exception as err:  # one failing batch must not lose the rest
            results = [
                EditResult(Status.ERROR, f"model failed: {err}", p.start, p.end) for _, p in chunk
            ]
        for (path, p), r in zip(chunk, results):
            _record(outcomes[path], p.start, p.end, r, summary)
    if progress:
        progress("denoising", len(prepared), len(prepared))

    accept_all = False
    for path in sorted(outcomes):
        out = outcomes[path]
        doc = out.scan.doc
        changes = [s for s in out.spans if s.result.changed]
        if doc is None or not changes:
            continue
        edits = [e for s in sorted(changes, key=lambda s: s.start) for e in s.result.edits]
        try:
            out.new_text = doc.apply(edits).text
        except DocumentError as err:
            out.error = f"cannot combine edits: {err}"
            summary.files_failed += 1
            continue
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
            new_doc = doc.apply(edits)
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
    if result.status is Status.CHANGED:
        summary.changed += 1
    elif result.status is Status.UNCHANGED:
        summary.unchanged += 1
    elif result.status is Status.REJECTED:
        summary.rejected += 1
    else:
        summary.errors += 1
    if result.reason and result.status is not Status.CHANGED:
        summary.reasons[result.reason] = summary.reasons.get(result.reason, 0) + 1
