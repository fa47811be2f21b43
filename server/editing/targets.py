"""Which span of a document an intent replaces, from its parse alone (no model).

The one answer to "what does fill replace here", shared by the engine, the Language
Server's code action listing and its inline completion. Offsets are str offsets into
`Document.text`; tree-sitter's byte offsets are converted here.
"""

from __future__ import annotations

from .. import syntax
from ..syntax import Placeholder
from .parsed import ParsedDocument
from .request import EditRequest, Intent, Status, failure


def placeholders_touched(parsed: ParsedDocument, start: int, end: int) -> list[Placeholder]:
    """Placeholders a selection touches; for a cursor, the one containing it or else the
    first on its line. Only the part of the tree near the range is walked."""
    doc, tree, lang = parsed.doc, parsed.tree, parsed.lang
    b_start, b_end = doc.byte_offset(start), doc.byte_offset(end)
    if start != end:
        return syntax.placeholders(tree, lang, within=(b_start, b_end))
    found = syntax.placeholder_at(tree, lang, b_start)
    return [found] if found is not None else []


def fill_span(parsed: ParsedDocument, start: int, end: int) -> tuple[int, int] | None:
    """The range a fill replaces: the placeholders the selection touches (or the one at the
    cursor), from the first's start to the last's end; None when it touches none."""
    hit = placeholders_touched(parsed, start, end)
    if not hit:
        return None
    to_str = parsed.doc.offset_from_byte
    return to_str(min(p.start for p in hit)), to_str(max(p.end for p in hit))


def completion_request(parsed: ParsedDocument | str, cursor: int) -> EditRequest:
    """What inline completion asks at the cursor: on a one-line placeholder, a fill of it
    (the item then replaces the placeholder); else a completion at the cursor. Either
    stops at the end of the line (ghost text is one line) unless the line is already
    complete, when it may write the lines that follow. `parsed` is a problem string when the
    document could not be parsed: then one line."""
    if isinstance(parsed, str):
        return EditRequest(Intent.COMPLETE, cursor, cursor, one_line=True)
    text = parsed.doc.text
    span = fill_span(parsed, cursor, cursor)
    if span is not None:
        start, end = span
        if "\n" not in text[start:end] and "\r" not in text[start:end]:
            return EditRequest(Intent.FILL, start, end, one_line=not line_is_complete(parsed, end))
    one_line = not line_is_complete(parsed, cursor)
    return EditRequest(Intent.COMPLETE, cursor, cursor, one_line=one_line)


def line_is_complete(parsed: ParsedDocument, cursor: int) -> bool:
    """Whether the cursor ends its line (nothing but blanks after it) and that line holds
    no syntax error: a finished statement, a blank line, or a header such as `def f():`
    whose only problem is the block still missing after it."""
    text, doc = parsed.doc.text, parsed.doc
    line_start = max(text.rfind("\n", 0, cursor), text.rfind("\r", 0, cursor)) + 1
    ends = [i for i in (text.find("\n", cursor), text.find("\r", cursor)) if i >= 0]
    line_end = min(ends) if ends else len(text)
    if text[cursor:line_end].strip():
        return False
    a, b = doc.byte_offset(line_start), doc.byte_offset(line_end)
    for issue in parsed.issues:
        if issue.start <= b and a <= issue.end and issue.start < issue.end:
            return False  # an error node on the line: the statement is unfinished
        if issue.start == issue.end and a <= issue.start < b:
            return False  # something missing inside the line, not after it
    return True


def fix_span(parsed: ParsedDocument, start: int, end: int) -> tuple[int, int]:
    """The range a fix regenerates: the statements around the syntax issues the selection
    touches, or, for a cursor near but not on one, those on its lines."""
    issues = parsed.issues
    if not issues:
        raise failure(Status.UNCHANGED, "no syntax error in the file")
    doc, source = parsed.doc, parsed.source
    b_start, b_end = doc.byte_offset(start), doc.byte_offset(end)
    near = [i for i in issues if i.start <= b_end and b_start <= i.end]
    if not near:  # a cursor near, not on, the error: take the errors on its lines
        first, last = source[:b_start].count(b"\n"), source[:b_end].count(b"\n")
        near = [
            i
            for i in issues
            if source[: i.start].count(b"\n") <= last and first <= source[: i.end].count(b"\n")
        ]
    if not near:
        raise failure(Status.UNCHANGED, "no syntax error in the selection")
    spans = [syntax.fix_span(parsed.tree, parsed.lang, issue) for issue in near]
    a, b = min(s for s, _ in spans), max(e for _, e in spans)
    return doc.offset_from_byte(a), doc.offset_from_byte(b)


def target_span(parsed: ParsedDocument, request: EditRequest, snap: bool) -> tuple[int, int]:
    """The range `request` replaces; raises EditFailure when there is nothing to do or the
    range is outside the document.

    snap: grow a rewrite (or the fill of a selection with no placeholder) to whole
    statements.
    """
    text = parsed.doc.text
    if not 0 <= request.start <= request.end <= len(text):
        raise failure(
            Status.ERROR,
            f"range {request.start}..{request.end} is outside the document (0..{len(text)})",
        )
    if request.intent is Intent.COMPLETE:
        return request.start, request.end
    if request.intent is Intent.FIX:
        return fix_span(parsed, request.start, request.end)
    if request.intent is Intent.FILL:
        span = fill_span(parsed, request.start, request.end)
        if span is not None:
            return span
        if not text[request.start : request.end].strip():
            return request.start, request.end
    # rewrite, or fill of a non-empty selection
    if snap:
        doc = parsed.doc
        a, b = syntax.snap_to_statements(
            parsed.tree, parsed.lang, doc.byte_offset(request.start), doc.byte_offset(request.end)
        )
        return doc.offset_from_byte(a), doc.offset_from_byte(b)
    return request.start, request.end
