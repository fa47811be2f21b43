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
