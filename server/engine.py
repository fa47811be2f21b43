"""One edit: (document, range, intent) -> masked request -> candidates -> validated,
re-indented result -> minimal text edits.

Pure Python with no LSP types; the CLI, the Language Server and the tests share it. An
edit is prepared (`prepare`: which span, what context), sent to the model alone or in a
batch with others, then finished (`finish`: text hygiene, syntax validation with bounded
repair rounds, minimal edits). An edit that leaves the file with more syntax errors than
it had is never returned as a change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from diffill.model import Backend as Infiller
from diffill.model import Cancelled, InfillError, InfillRequest, InfillResult

from . import syntax
from .context import build_window
from .document import Document, TextEdit, minimal_edits


class Intent(str, Enum):
    FILL = "fill"  # replace a placeholder or an empty selection
    REWRITE = "rewrite"  # regenerate the selection from its context
    FIX = "fix"  # repair a syntax error
    COMPLETE = "complete"  # insert at the cursor


class Status(str, Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # the model proposed the text already there, or nothing to do
    REJECTED = "rejected"  # every candidate made the file worse
    UNSUPPORTED = "unsupported"  # language not supported
    ERROR = "error"  # bad request (range out of bounds, span too long, ...)
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class EditOptions:
    """Engine settings; sampler options pass through to the model."""

    max_context_tokens: int = 1024
    max_span_tokens: int = 192
    snap: bool = True  # grow selections to whole statements
    repair_rounds: int = 2  # re-denoise the tokens under a new syntax error this often
    sampler: dict = field(default_factory=dict)  # SamplerOptions fields


@dataclass(frozen=True)
class EditRequest:
    intent: Intent
    start: int  # offsets into Document.text
    end: int
    strength: float = 1.0  # rewrite: share of the span's tokens re-noised


@dataclass
class Prepared:
    """A request resolved to a span and its context, ready for the model."""

    doc: Document
    lang: syntax.LanguageSpec
    request: EditRequest
    start: int
    end: int
    original: str
    infill: InfillRequest
    errors_before: int


@dataclass
class EditResult:
    status: Status
    reason: str = ""
    start: int = 0  # the span replaced, in offsets of the original document
    end: int = 0
    original: str = ""
    replacement: str = ""
    edits: list[TextEdit] = field(default_factory=list)
    errors_before: int = 0
    errors_after: int = 0
    steps: int = 0
    seconds: float = 0.0
    confidence: float = 0.0
    repairs: int = 0

    @property
    def changed(self) -> bool:
        return self.status is Status.CHANGED


class EditFailure(Exception):
    """A request that cannot be prepared; carries the result to report."""

    def __init__(self, result: EditResult) -> None:
        super().__init__(result.reason)
        self.result = result


def _fail(status: Status, reason: str, start: int = 0, end: int = 0) -> EditFailure:
    return EditFailure(EditResult(status, reason, start, end))


def language_of(path: str | None, language: str | None) -> syntax.LanguageSpec:
    try:
        if language:
            return syntax.language_for_name(language)
        if path:
            return syntax.language_for_path(path)
    except syntax.UnsupportedLanguage as err:
        raise _fail(Status.UNSUPPORTED, str(err)) from None
    raise _fail(Status.UNSUPPORTED, "unsupported language: no file name or language given")


def resolve_span(
    doc: Document, lang: syntax.LanguageSpec, request: EditRequest, options: EditOptions
) -> tuple[int, int]:
    """The document range an intent replaces."""
    text = doc.text
    if not 0 <= request.start <= request.end <= len(text):
        raise _fail(
            Status.ERROR,
            f"range {request.start}..{request.end} is outside the document (0..{len(text)})",
        )
    source = text.encode("utf-8")
    tree = syntax.parse(source, lang)
    b_start, b_end = doc.byte_offset(request.start), doc.byte_offset(request.end)
    to_str = doc.offset_from_byte

    if request.intent is Intent.COMPLETE:
        return request.start, request.end
    if request.intent is Intent.FIX:
        issues = syntax.syntax_issues(tree)
        if not issues:
            raise _fail(Status.UNCHANGED, "no syntax error in the file")
        near = [i for i in issues if i.start <= b_end and b_start <= i.end]
        if not near:  # a cursor near, not on, the error: take the errors on its lines
            source_lines = source[:b_start].count(b"\n"), source[:b_end].count(b"\n")
            near = [
                i
                for i in issues
                if source[: i.start].count(b"\n") <= source_lines[1]
                and source_lines[0] <= source[: i.end].count(b"\n")
            ]
        if not near:
            raise _fail(Status.UNCHANGED, "no syntax error in the selection")
        a, b = syntax.fix_span(tree, lang, near[0])
        for issue in near[1:]:
            c, d = syntax.fix_span(tree, lang, issue)
            a, b = min(a, c), max(b, d)
        return to_str(a), to_str(b)
    if request.intent is Intent.FILL:
        # The placeholders the selection touches (or the one at the cursor) are the span.
        if b_start == b_end:
            hit = [p for p in [syntax.placeholder_at(tree, lang, b_start)] if p is not None]
        else:
            hit = [
                p for p in syntax.placeholders(tree, lang) if p.start <= b_end and b_start <= p.end
            ]
        if hit:
            return to_str(min(p.start for p in hit)), to_str(max(p.end for p in hit))
        if not text[request.start : request.end].strip():
            return request.start, request.end
    # rewrite, or fill of a non-empty selection
    if options.snap:
        a, b = syntax.snap_to_statements(tree, lang, b_start, b_end)
        return to_str(a), to_str(b)
    return request.start, request.end


def prepare(
    doc: Document,
    lang: syntax.LanguageSpec,
    request: EditRequest,
    infiller: Infiller,
    options: EditOptions = EditOptions(),
) -> Prepared:
    """Resolve the span and build the model request; raises EditFailure to report."""
    if not 0 < request.strength <= 1:
        raise _fail(Status.ERROR, f"strength must be in (0, 1], not {request.strength}")
    start, end = resolve_span(doc, lang, request, options)
    text = doc.text
    original = text[start:end]
    tok = infiller.tokenizer
    n_span = len(tok.encode(original))
    limit = min(options.max_span_tokens, infiller.max_span_tokens)
    if n_span > limit:
        raise _fail(
            Status.ERROR,
            f"the span is {n_span} tokens; the model handles at most {limit}: select less",
            start,
            end,
        )
    tree = syntax.parse(text.encode("utf-8"), lang)

    def count(pieces):
        return [len(ids) for ids in tok.encode_batch(list(pieces))]

    window = build_window(doc, start, end, options.max_context_tokens, count, tree, lang)
    # The model was trained on "\n" line endings; it sees the file that way.
    line_start = text.rfind("\n", 0, start) + 1
    indent = text[line_start:start] if not text[line_start:start].strip() else ""
    prefix = window.prefix.replace("\r\n", "\n") + _todo_hint(original, request.intent, indent)
    suffix = window.suffix.replace("\r\n", "\n")
    middle = original.replace("\r\n", "\n")
    if request.intent is Intent.REWRITE and request.strength < 1:
        infill = InfillRequest(prefix, suffix, middle=middle, strength=request.strength)
    else:
        infill = InfillRequest(prefix, suffix)
    prepared = Prepared(
        doc=doc,
        lang=lang,
        request=request,
        start=start,
        end=end,
        original=original,
        infill=infill,
        errors_before=syntax.count_errors(tree),
    )
    prepared.infill.accept = lambda candidate: _acceptable(prepared, candidate)
    return prepared


def _todo_hint(original: str, intent: Intent, indent: str) -> str:
    """A filled `# TODO ...` placeholder disappears from the file, but its words are the
    best description of what to write: the model sees them at the end of the prefix,
    followed by the span's indentation, where the new code begins."""
    if intent is not Intent.FILL:
        return ""
    comments = [ln.strip() for ln in original.splitlines() if ln.strip().startswith("#")]
    if not comments:
        return ""
    return f"\n{indent}".join(comments) + "\n" + indent


def _splice(prepared: Prepared, replacement: str) -> str:
    t = prepared.doc.text
    return t[: prepared.start] + replacement + t[prepared.end :]


def _errors_with(prepared: Prepared, replacement: str) -> int:
    source = _splice(prepared, replacement).encode("utf-8")
    return syntax.count_errors(syntax.parse(source, prepared.lang))


def _acceptable(prepared: Prepared, candidate: str) -> bool:
    if _invents_replacement_chars(prepared, candidate):
        return False
    return _errors_with(prepared, clean(prepared, candidate)) <= prepared.errors_before


def _invents_replacement_chars(prepared: Prepared, candidate: str) -> bool:
    """U+FFFD in a result means the model produced bytes that are not UTF-8; such text
    must never reach the user's file (unless the span already had it)."""
    return "\ufffd" in candidate and "\ufffd" not in prepared.original


def clean(prepared: Prepared, candidate: str) -> str:
    """Text hygiene: the file's indentation and line endings, no doubled suffix, no stray
    blank lines."""
    doc = prepared.doc
    text = candidate.replace("\r\n", "\n").replace("\r", "\n")
    suffix = doc.text[prepared.end :].replace("\r\n", "\n")
    trimmed = _trim_repeated_suffix(text, suffix)
    # Only when the cut does not break the code: `print(f(x|)` may need both parens.
    if trimmed != text and _errors_with(prepared, trimmed) <= _errors_with(prepared, text):
        text = trimmed
    text = _reindent(text, doc.indent_unit())
    # No blank lines or trailing blanks the original span did not have at its ends.
    original = prepared.original
    if not original[-1:].isspace():
        text = text.rstrip()
    if not original.startswith(("\n", "\r")):
        text = text.lstrip("\r\n")
    text = re.sub(r"\n[ \t]*\n([ \t]*\n)+", "\n\n\n", text)  # at most two blank lines
    text = "\n".join(line.rstrip(" \t") if line.strip() else "" for line in text.split("\n"))
    if doc.newline != "\n":
        text = text.replace("\n", doc.newline)
    return text


def _trim_repeated_suffix(text: str, suffix: str) -> str:
    """Drop a generated tail that repeats the start of the suffix (the doubled `))`)."""
    head = suffix.lstrip(" \t")
    best = 0
    for k in range(1, min(len(text), len(head), 80) + 1):
        tail = text[-k:]
        if head.startswith(tail) and tail.strip():
            best = k
    if best and text[-best:].strip() and not text[-best:].isalnum():
        return text[:-best]
    return text


def _reindent(text: str, unit: str) -> str:
    """Continuation lines in the file's indentation style.

    The model writes absolute indentation (it sees the prefix), nearly always in spaces
    because it learned from space-indented code: in a tab-indented file its 4-space steps
    become tabs; in a space-indented file any tab it wrote becomes the file's unit.
    """
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        body = line.lstrip(" \t")
        lead = line[: len(line) - len(body)]
        if unit == "\t" and " " in lead:
            levels, extra = divmod(len(lead.expandtabs(4)), 4)
            lead = "\t" * levels + " " * extra
        elif unit != "\t" and "\t" in lead:
            lead = lead.replace("\t", unit)
        out.append(lead + body)
    return "\n".join(out)


def finish(
    prepared: Prepared,
    result: InfillResult,
    infiller: Infiller,
    options: EditOptions = EditOptions(),
    cancel=None,
) -> EditResult:
    """Validate a model result, repair new syntax errors a bounded number of times, and
    turn it into minimal edits."""
    replacement = clean(prepared, result.text)
    errors = _errors_with(prepared, replacement)
    repairs = 0
    steps, seconds = result.steps, result.seconds
    while errors > prepared.errors_before and repairs < options.repair_rounds:
        ranges = _new_issue_ranges(prepared, replacement)
        if not ranges:
            break
        repairs += 1
        try:
            again = infiller.infill(
                prepared.infill.prefix,
                prepared.infill.suffix,
                middle=replacement.replace("\r\n", "\n"),
                remask=ranges,
                cancel=cancel,
                **{**options.sampler, "seed": options.sampler.get("seed", 0) + repairs},
            )
        except InfillError:
            break
        steps += again.steps
        seconds += again.seconds
        candidate = clean(prepared, again.text)
        new_errors = _errors_with(prepared, candidate)
        if new_errors <= errors:
            replacement, errors = candidate, new_errors
    base = EditResult(
        Status.UNCHANGED,
        start=prepared.start,
        end=prepared.end,
        original=prepared.original,
        replacement=replacement,
        errors_before=prepared.errors_before,
        errors_after=errors,
        steps=steps,
        seconds=seconds,
        confidence=result.confidence,
        repairs=repairs,
    )
    if _invents_replacement_chars(prepared, replacement):
        base.status = Status.REJECTED
        base.reason = "the model produced text that is not valid UTF-8"
        base.errors_after = prepared.errors_before
        return base
    if errors > prepared.errors_before:
        base.status = Status.REJECTED
        base.reason = (
            f"every candidate adds syntax errors ({prepared.errors_before} before, "
            f"{errors} after, {repairs} repair rounds)"
        )
        base.errors_after = prepared.errors_before
        return base
    if prepared.request.intent is Intent.FIX and errors >= prepared.errors_before:
        base.status = Status.REJECTED
        base.reason = "the repair did not remove the syntax error"
        base.errors_after = prepared.errors_before
        return base
    if replacement == prepared.original:
        base.reason = "the model kept the text as it was"
        return base
    if not replacement.strip() and prepared.request.intent is not Intent.REWRITE:
        base.reason = "the model proposed nothing"
        base.replacement = prepared.original
        return base
    base.status = Status.CHANGED
    base.edits = minimal_edits(prepared.original, replacement, base=prepared.start)
    return base


def _new_issue_ranges(prepared: Prepared, replacement: str) -> list[tuple[int, int]]:
    """Character ranges, within `replacement`, of syntax issues inside the edited span."""
    spliced = _splice(prepared, replacement)
    data = spliced.encode("utf-8")
    tree = syntax.parse(data, prepared.lang)
    doc = Document.from_text(spliced)
    lo = prepared.start
    hi = prepared.start + len(replacement)
    out = []
    for issue in syntax.syntax_issues(tree):
        a, b = doc.offset_from_byte(issue.start), doc.offset_from_byte(issue.end)
        if a <= hi and lo <= b:
            out.append((max(a, lo) - lo, min(b, hi) - lo))
    return out


def edit(
    doc: Document,
    lang: syntax.LanguageSpec,
    request: EditRequest,
    infiller: Infiller,
    options: EditOptions = EditOptions(),
    on_step: Callable | None = None,
    cancel=None,
) -> EditResult:
    """Run one edit end to end (prepare, model, finish)."""
    try:
        prepared = prepare(doc, lang, request, infiller, options)
    except EditFailure as failure:
        return failure.result
    r = prepared.infill
    try:
        result = infiller.infill(
            r.prefix,
            r.suffix,
            middle=r.middle,
            strength=r.strength,
            accept=r.accept,
            on_step=on_step,
            cancel=cancel,
            **options.sampler,
        )
        return finish(prepared, result, infiller, options, cancel)
    except Cancelled:
        return EditResult(Status.CANCELLED, "cancelled", prepared.start, prepared.end)
    except InfillError as err:
        return EditResult(Status.ERROR, str(err), prepared.start, prepared.end)


def edit_batch(
    items: list[Prepared],
    infiller: Infiller,
    options: EditOptions = EditOptions(),
    cancel=None,
) -> list[EditResult]:
    """Many prepared edits through one `infill_batch` call, then finished one by one."""
    if not items:
        return []
    results = infiller.infill_batch([p.infill for p in items], cancel=cancel, **options.sampler)
    return [finish(p, r, infiller, options, cancel) for p, r in zip(items, results)]


def edit_text(
    text: str,
    path: str | None,
    request: EditRequest,
    infiller: Infiller,
    options: EditOptions = EditOptions(),
    language: str | None = None,
) -> tuple[str, EditResult]:
    """str -> str: the text after the edit (unchanged unless the result is a change)."""
    doc = Document.from_text(text)
    try:
        lang = language_of(path, language)
    except EditFailure as failure:
        return text, failure.result
    result = edit(doc, lang, request, infiller, options)
    if not result.changed:
        return text, result
    new = doc.apply(result.edits)
    return ("\ufeff" if new.bom else "") + new.text, result
