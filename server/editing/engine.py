"""One edit: (parsed document, range, intent) -> masked request -> candidates -> validated,
re-indented result -> minimal text edits.

Pure Python with no LSP types; the CLI, the Language Server and the tests share it. An
edit is prepared (`prepare`: which span, what context), sent to the model alone or in a
batch with others, then finished (`finish`: text hygiene, syntax validation with bounded
repair rounds, minimal edits). An edit that leaves the file with more syntax errors than
it had is never returned as a change.

The engine parses nothing it is given: the document comes parsed (`ParsedDocument`), and
each candidate text is spliced into it and parsed once, incrementally from the document's
tree, then compared with that tree's issues.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from diffill.model import Backend, Cancelled, InfillError, InfillRequest, InfillResult

from .. import syntax
from ..document import Document
from .context import build_window
from .minimal_edits import minimal_edits
from .parsed import ParsedDocument
from .request import (
    DEFAULT_OPTIONS,
    EditFailure,
    EditOptions,
    EditRequest,
    EditResult,
    Intent,
    Status,
    failure,
)
from .targets import target_span

CancelHandle = Any  # anything with `is_set()`, checked by the sampler between steps


def language_of(path: str | None, language: str | None) -> syntax.LanguageSpec:
    """The language named (a name, alias or LSP languageId), else the file's; EditFailure
    (unsupported) when neither is known."""
    try:
        if language:
            return syntax.language_for_name(language)
        if path:
            return syntax.language_for_path(path)
    except syntax.UnsupportedLanguage as err:
        raise failure(Status.UNSUPPORTED, str(err)) from None
    raise failure(Status.UNSUPPORTED, "unsupported language: no file name or language given")


class Prepared:
    """A request resolved to a span and its context, ready for the model; the candidates
    checked so far, each parsed once."""

    def __init__(
        self,
        parsed: ParsedDocument,
        request: EditRequest,
        start: int,
        end: int,
        infill: InfillRequest,
    ) -> None:
        self.parsed = parsed
        self.request = request
        self.start = start
        self.end = end
        self.original = parsed.doc.text[start:end]
        self.infill = infill
        self.errors_before = len(parsed.issues)
        self._candidates: dict[str, ParsedDocument] = {}

    @property
    def doc(self) -> Document:
        return self.parsed.doc

    def candidate(self, replacement: str) -> ParsedDocument:
        """The document with `replacement` for the span, parsed (once per distinct text)."""
        found = self._candidates.get(replacement)
        if found is None:
            found = self._candidates[replacement] = self.parsed.splice(
                self.start, self.end, replacement
            )
        return found

    def errors_with(self, replacement: str) -> int:
        return len(self.candidate(replacement).issues)


def prepare(
    parsed: ParsedDocument,
    request: EditRequest,
    backend: Backend,
    options: EditOptions = DEFAULT_OPTIONS,
    span: tuple[int, int] | None = None,
) -> Prepared:
    """Resolve the span (unless the caller did: `span`, from `targets.target_span`) and
    build the model request; raises EditFailure to report."""
    if not 0 < request.strength <= 1:
        raise failure(Status.ERROR, f"strength must be in (0, 1], not {request.strength}")
    start, end = span or target_span(parsed, request, options.snap)
    doc = parsed.doc
    text = doc.text
    original = text[start:end]
    n_span = backend.count_tokens(original)
    limit = min(options.max_span_tokens, backend.max_span_tokens)
    if n_span > limit:
        raise failure(
            Status.ERROR,
            f"the span is {n_span} tokens; the model handles at most {limit}: select less",
            start,
            end,
        )

    def count(pieces: Sequence[str]) -> list[int]:
        return [backend.count_tokens(piece) for piece in pieces]

    window = build_window(
        doc, start, end, options.max_context_tokens, count, parsed.tree, parsed.lang
    )
    # The model was trained on "\n" line endings; it sees the file that way.
    line_start = text.rfind("\n", 0, start) + 1
    indent = text[line_start:start] if not text[line_start:start].strip() else ""
    prefix = window.prefix.replace("\r\n", "\n") + _todo_hint(original, request.intent, indent)
    suffix = window.suffix.replace("\r\n", "\n")
    middle = original.replace("\r\n", "\n")
    # Ghost text is one line: the model is told, so that one writing left to right stops
    # at the line's end instead of writing lines `clean` would throw away.
    one_line = request.one_line
    if request.intent is Intent.REWRITE and request.strength < 1:
        infill = InfillRequest(
            prefix, suffix, middle=middle, strength=request.strength, one_line=one_line
        )
    else:
        infill = InfillRequest(prefix, suffix, one_line=one_line)
    prepared = Prepared(parsed, request, start, end, infill)
    infill.accept = lambda candidate: _acceptable(prepared, candidate)
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


def _acceptable(prepared: Prepared, candidate: str) -> bool:
    if _invents_replacement_chars(prepared, candidate):
        return False
    return prepared.errors_with(clean(prepared, candidate)) <= prepared.errors_before


def _invents_replacement_chars(prepared: Prepared, candidate: str) -> bool:
    """U+FFFD in a result means the model produced bytes that are not UTF-8; such text
    must never reach the user's file (unless the span already had it)."""
    return "\ufffd" in candidate and "\ufffd" not in prepared.original


def clean(prepared: Prepared, candidate: str) -> str:
    """Text hygiene: the file's indentation and line endings, no doubled suffix, no stray
    blank lines."""
    doc = prepared.doc
    text = candidate.replace("\r\n", "\n").replace("\r", "\n")
    if prepared.request.one_line:
        text = text.split("\n", 1)[0]
    suffix = doc.text[prepared.end :].replace("\r\n", "\n")
    trimmed = _trim_repeated_suffix(text, suffix)
    # Only when the cut does not break the code: `print(f(x|)` may need both parens.
    if trimmed != text and prepared.errors_with(trimmed) <= prepared.errors_with(text):
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


PhaseCallback = Callable[[str], None]  # told what the edit is doing now, in plain words
CHECKING = "checking the result"


def repairing(attempt: int, attempts: int) -> str:
    return f"repairing a syntax error (attempt {attempt} of {attempts})"


def finish(
    prepared: Prepared,
    result: InfillResult,
    backend: Backend,
    options: EditOptions,
    cancel: CancelHandle | None,
    on_step: Callable | None = None,
    on_phase: PhaseCallback | None = None,
) -> EditResult:
    """Validate a model result, repair new syntax errors a bounded number of times, and
    turn it into minimal edits. `on_phase` hears each phase (checking, each repair) and
    `on_step` each denoising step of a repair, so a client never waits in silence."""
    if on_phase is not None:
        on_phase(CHECKING)
    replacement = clean(prepared, result.text)
    errors = prepared.errors_with(replacement)
    repairs = 0
    steps, seconds = result.steps, result.seconds
    while errors > prepared.errors_before and repairs < options.repair_rounds:
        ranges = _new_issue_ranges(prepared, replacement)
        if not ranges:
            break
        repairs += 1
        if on_phase is not None:
            on_phase(repairing(repairs, options.repair_rounds))
        try:
            again = backend.infill(
                prepared.infill.prefix,
                prepared.infill.suffix,
                middle=replacement.replace("\r\n", "\n"),
                repair=ranges,
                one_line=prepared.infill.one_line,
                cancel=cancel,
                on_step=on_step,
                **{**options.sampler, "seed": options.sampler.get("seed", 0) + repairs},
            )
        except InfillError:
            break
        steps += again.steps
        seconds += again.seconds
        if on_phase is not None:
            on_phase(CHECKING)
        candidate = clean(prepared, again.text)
        new_errors = prepared.errors_with(candidate)
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
        base.reason = "the model produced garbled text (not valid UTF-8)"
        base.errors_after = prepared.errors_before
        return base
    if errors > prepared.errors_before:
        base.status = Status.REJECTED
        added = errors - prepared.errors_before
        what = "a syntax error" if added == 1 else f"{added} syntax errors"
        tried = (
            f", even after {repairs} {'attempt' if repairs == 1 else 'attempts'} to repair it"
            if repairs
            else ""
        )
        base.reason = f"the best proposal would add {what}{tried}"
        base.errors_after = prepared.errors_before
        # Not applied, but kept: a client may still show it for the user to judge.
        base.edits = minimal_edits(prepared.original, replacement, base=prepared.start)
        return base
    if prepared.request.intent is Intent.FIX and errors >= prepared.errors_before:
        base.status = Status.REJECTED
        base.reason = "the repair did not remove the syntax error"
        base.errors_after = prepared.errors_before
        return base
    if replacement == prepared.original:
        base.reason = "the model proposed the text that is already there"
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
    spliced = prepared.candidate(replacement)
    doc = spliced.doc
    lo = prepared.start
    hi = prepared.start + len(replacement)
    out = []
    for issue in spliced.issues:
        a, b = doc.offset_from_byte(issue.start), doc.offset_from_byte(issue.end)
        if a <= hi and lo <= b:
            out.append((max(a, lo) - lo, min(b, hi) - lo))
    return out


def edit(
    parsed: ParsedDocument,
    request: EditRequest,
    backend: Backend,
    options: EditOptions = DEFAULT_OPTIONS,
    on_step: Callable | None = None,
    cancel: CancelHandle | None = None,
) -> EditResult:
    """Run one edit end to end (prepare, model, finish)."""
    try:
        prepared = prepare(parsed, request, backend, options)
    except EditFailure as failed:
        return failed.result
    return edit_prepared(prepared, backend, options, on_step, cancel)


def edit_prepared(
    prepared: Prepared,
    backend: Backend,
    options: EditOptions,
    on_step: Callable | None,
    cancel: CancelHandle | None,
    on_phase: PhaseCallback | None = None,
) -> EditResult:
    """The model and `finish` for a prepared edit."""
    r = prepared.infill
    try:
        result = backend.infill(
            r.prefix,
            r.suffix,
            middle=r.middle,
            strength=r.strength,
            accept=r.accept,
            one_line=r.one_line,
            on_step=on_step,
            cancel=cancel,
            **options.sampler,
        )
        return finish(prepared, result, backend, options, cancel, on_step, on_phase)
    except Cancelled:
        return EditResult(Status.CANCELLED, "cancelled", prepared.start, prepared.end)
    except InfillError as err:
        return EditResult(Status.ERROR, str(err), prepared.start, prepared.end)
    except syntax.ParseTimeout as err:
        return EditResult(Status.ERROR, str(err), prepared.start, prepared.end)


def edit_batch(
    items: list[Prepared],
    backend: Backend,
    options: EditOptions = DEFAULT_OPTIONS,
    cancel: CancelHandle | None = None,
) -> list[EditResult]:
    """Many prepared edits through one `infill_batch` call, then finished one by one."""
    if not items:
        return []
    results = backend.infill_batch([p.infill for p in items], cancel=cancel, **options.sampler)
    out = []
    for p, r in zip(items, results):
        try:
            out.append(finish(p, r, backend, options, cancel))
        except syntax.ParseTimeout as err:  # one slow candidate fails its span alone
            out.append(EditResult(Status.ERROR, str(err), p.start, p.end))
    return out
