"""Statements: growing a selection to whole statements, and the span that repairs a
syntax issue. Byte offsets throughout."""

from __future__ import annotations

from tree_sitter import Node, Tree

from .languages import LanguageSpec
from .nodes import ancestors, covering_chain, line_bounds, overlaps, source_of
from .trees import SyntaxIssue, issue_nodes


def _is_statement(node: Node, lang: LanguageSpec) -> bool:
    if node.type in lang.statement_types:
        return True
    parent = node.parent
    return (
        parent is not None
        and parent.type in lang.body_types
        and node.is_named
        and not node.is_extra
        and not node.is_error
        and not node.is_missing
    )


def _fits_in_run(node: Node, lang: LanguageSpec) -> bool:
    # What may sit between statements without being cut: comments, broken code, and Go's
    # `;` separators. Braces and headers may not, so a selection touching them goes up.
    return (
        _is_statement(node, lang)
        or node.is_extra
        or node.is_error
        or node.is_missing
        or node.type == ";"
    )


def snap_to_statements(tree: Tree, lang: LanguageSpec, start: int, end: int) -> tuple[int, int]:
    """Grow [start, end) to whole statements.

    The result is the smallest run of sibling statements covering the selection, or the
    smallest statement holding it. Its ends are node ends: whitespace selected around the
    statements is not kept. A selection no statement holds (blank lines between top-level
    definitions) comes back unchanged.
    """
    if start > end:
        raise ValueError(f"bad range: start {start} > end {end}")
    inner_start, inner_end = _trim_whitespace(source_of(tree), start, end)
    for node in reversed(covering_chain(tree, inner_start, inner_end)):
        if _is_statement(node, lang):
            return node.start_byte, node.end_byte
        if inner_start < inner_end:
            touched = [
                c
                for c in node.children
                if overlaps(c.start_byte, c.end_byte, inner_start, inner_end)
            ]
        else:
            touched = [c for c in node.children if c.start_byte <= inner_start < c.end_byte]
        if any(_is_statement(c, lang) for c in touched) and all(
            _fits_in_run(c, lang) for c in touched
        ):
            return touched[0].start_byte, touched[-1].end_byte
    return start, end


def _trim_whitespace(source: bytes, start: int, end: int) -> tuple[int, int]:
    """The selection without the whitespace at its ends, which belongs to no statement.

    Editors select whole lines from column 0, and a cursor in a line's indentation is on
    that line, so both are moved onto the code. A selection of whitespace only is kept.
    """
    if start < end:
        text = source[start:end]
        stripped = text.lstrip()
        if stripped:
            start += len(text) - len(stripped)
            end -= len(stripped) - len(stripped.rstrip())
        return start, end
    line_start, line_end = line_bounds(source, start, start)
    rest_of_line = source[start:line_end]
    if source[line_start:start].strip() == b"" and rest_of_line.strip():
        start += len(rest_of_line) - len(rest_of_line.lstrip())
    return start, start


def fix_span(tree: Tree, lang: LanguageSpec, issue: SyntaxIssue) -> tuple[int, int]:
    """The range to regenerate to repair `issue`: its smallest enclosing statement, or, for an
    error with no statement around it, the error's own lines."""
    node = next(
        (n for n in issue_nodes(tree) if (n.start_byte, n.end_byte) == (issue.start, issue.end)),
        None,
    )
    if node is None:  # an issue from another tree: go by its range
        node = covering_chain(tree, issue.start, issue.end)[-1]
    for ancestor in ancestors(node):
        if _is_statement(ancestor, lang):
            return ancestor.start_byte, ancestor.end_byte
    return line_bounds(source_of(tree), issue.start, issue.end)
