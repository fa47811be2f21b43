"""Parsing, and what a parsed tree holds: syntax issues (ERROR and MISSING nodes, bodies the
language rejects), placeholders, and the nodes a query captures.

Every offset is a byte offset into the UTF-8 source, as tree-sitter counts; converting
editor positions to bytes is the caller's job. Every function takes source bytes or a tree
and returns plain values; `edit_tree` alone changes its tree, as `Tree.edit` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Node, Parser, Query, QueryCursor, QueryError, Tree

from .languages import LanguageSpec
from .nodes import line_bounds, source_of
from .placeholders import Placeholder

# A Parser carries mutable state and the server parses from worker threads, so each thread
# keeps its own parser per language; Languages are immutable and shared.
_parsers = threading.local()
_READ_CHUNK = 1 << 16


class ParseTimeout(Exception):
    """Parsing took longer than its bound (tree-sitter is slow on some inputs: Python
    comment lines after an indented block are quadratic)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"parsing took longer than {seconds:g} s (tree-sitter is slow on some files, "
            "such as many comment lines after an indented block)"
        )
        self.seconds = seconds


def parse(
    source: bytes, lang: LanguageSpec, old_tree: Tree | None = None, timeout_s: float | None = None
) -> Tree:
    """Parse UTF-8 `source`. Never raises on bad syntax: errors become ERROR/MISSING nodes.

    old_tree: the previous version's tree with `edit_tree` applied for every change since;
    tree-sitter then reparses only what changed (milliseconds for a large file).
    timeout_s: give up after this long with ParseTimeout (None: no bound).
    """
    if not isinstance(source, bytes):
        raise TypeError(
            f"parse() takes UTF-8 bytes, not {type(source).__name__}; "
            "encode text first so offsets are byte offsets"
        )
    cache: dict[str, Parser] = _parsers.__dict__.setdefault("by_language", {})
    parser = cache.get(lang.name)
    if parser is None:
        parser = cache[lang.name] = Parser(lang.language)
    if timeout_s is None:
        return parser.parse(source, old_tree) if old_tree is not None else parser.parse(source)
    # Only the callback form of Parser.parse takes a progress callback, which is what
    # tree-sitter >= 0.25 offers instead of a timeout.
    deadline = time.monotonic() + timeout_s

    def read(offset: int, _point: object) -> bytes:
        # bytes, not a memoryview: py-tree-sitter then keeps the source (Node.text), which
        # it does not for other buffers (and crashes reading it).
        return source[offset : offset + _READ_CHUNK]

    def past_deadline(_offset: int, _has_error: bool) -> bool:
        return time.monotonic() > deadline

    try:
        if old_tree is None:
            return parser.parse(read, progress_callback=past_deadline)
        return parser.parse(read, old_tree, progress_callback=past_deadline)
    except ValueError:  # "Parsing failed": the callback stopped it
        parser.reset()  # or the next parse would resume this one
        if time.monotonic() > deadline:
            raise ParseTimeout(timeout_s) from None
        raise


def edit_tree(tree: Tree, old: bytes, new: bytes, start: int, old_end: int, new_end: int) -> None:
    """Tell `tree` (parsed from `old`) that old[start:old_end] became new[start:new_end].

    Points are (row, byte column) with rows counted at "\\n" alone, as tree-sitter counts.
    """

    def point(source: bytes, offset: int) -> tuple[int, int]:
        return source.count(b"\n", 0, offset), offset - (source.rfind(b"\n", 0, offset) + 1)

    tree.edit(
        start_byte=start,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=point(old, start),
        old_end_point=point(old, old_end),
        new_end_point=point(new, new_end),
    )


# --- syntax errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntaxIssue:
    """One ERROR node ("error") or MISSING node ("missing", zero width) of a tree."""

    start: int
    end: int
    kind: str
    message: str


def issue_nodes(tree: Tree) -> Iterator[Node]:
    """Outermost ERROR nodes and MISSING nodes outside them, in document order."""
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            # Whatever lies inside an ERROR is part of that one error.
            yield node
            continue
        stack.extend(child for child in reversed(node.children) if child.has_error)


def _issue(node: Node) -> SyntaxIssue:
    if node.is_error:
        return SyntaxIssue(node.start_byte, node.end_byte, "error", "syntax error")
    what = node.type if node.is_named else f'"{node.type}"'
    return SyntaxIssue(node.start_byte, node.end_byte, "missing", f"missing {what}")


@cache
def _capture_query(language: Language, node_types: frozenset[str]) -> Query:
    return Query(language, "[" + " ".join(f"({t})" for t in sorted(node_types)) + "] @node")


def _bodies_without_statement(tree: Tree, lang: LanguageSpec) -> Iterator[SyntaxIssue]:
    """Bodies holding no statement (only comments, or nothing) where the language wants one.

    The grammar accepts them; the language does not. Without this check a fill that turns
    Python's `pass` into a comment would pass as clean.
    """
    if not lang.bodies_need_a_statement:
        return
    query = _capture_query(lang.language, lang.bodies_need_a_statement)
    for node in QueryCursor(query).captures(tree.root_node).get("node", []):
        if not node.has_error and all(c.type in lang.comment_types for c in node.named_children):
            # The body starts after its header; an empty one may be zero-width.
            yield SyntaxIssue(node.start_byte, node.end_byte, "missing", "missing the body")


def syntax_issues(tree: Tree, lang: LanguageSpec) -> list[SyntaxIssue]:
    """Every outermost ERROR node, every MISSING node not inside one, and every body the
    language rejects for holding no statement, sorted by start."""
    issues = [_issue(node) for node in issue_nodes(tree)]
    issues += _bodies_without_statement(tree, lang)
    return sorted(issues, key=lambda issue: (issue.start, issue.end))


def count_errors(tree: Tree, lang: LanguageSpec) -> int:
    return len(syntax_issues(tree, lang))


# --- placeholders --------------------------------------------------------------------------


def placeholders(
    tree: Tree, lang: LanguageSpec, within: tuple[int, int] | None = None
) -> list[Placeholder]:
    """Placeholders to fill, sorted and non-overlapping ([] for a language without any).

    within: only placeholders overlapping this byte range (all when None).
    """
    if lang.find_placeholders is None:
        return []
    return lang.find_placeholders(tree, within)


def placeholder_at(tree: Tree, lang: LanguageSpec, offset: int) -> Placeholder | None:
    """The placeholder containing `offset`, or else the first one on the same line."""
    line_start, line_end = line_bounds(source_of(tree), offset, offset)
    found = placeholders(tree, lang, within=(line_start, line_end))
    for p in found:
        if p.start <= offset <= p.end:
            return p
    return next((p for p in found if p.start <= line_end and line_start <= p.end), None)


# --- queries -------------------------------------------------------------------------------


def query_targets(tree: Tree, lang: LanguageSpec, query_source: str) -> list[tuple[int, int]]:
    """Byte ranges of the nodes a tree-sitter query captures as `@target`, sorted; where
    captures nest or overlap, the outermost is kept."""
    try:
        query = Query(lang.language, query_source)
    except QueryError as error:
        raise ValueError(f"invalid tree-sitter query for {lang.name}: {error}") from error
    names = [query.capture_name(i) for i in range(query.capture_count)]
    if "target" not in names:
        have = ", ".join(f"@{n}" for n in names) or "none"
        raise ValueError(f"the query must capture the nodes to edit as @target (captures: {have})")
    nodes = QueryCursor(query).captures(tree.root_node).get("target", [])
    ranges = sorted({(n.start_byte, n.end_byte) for n in nodes}, key=lambda r: (r[0], -r[1]))
    kept: list[tuple[int, int]] = []
    for start, end in ranges:
        if kept and start < kept[-1][1]:
            continue
        kept.append((start, end))
    return kept
