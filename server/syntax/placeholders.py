"""Placeholders: code standing in for code still to write (`pass`, `...`, `raise
NotImplementedError`, a TODO comment, a body with only a docstring).

Only Python has them so far; a language's `LanguageSpec.find_placeholders` names its
finder, so a new language adds one here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node, Tree

from .nodes import ancestors, source_of, walk


@dataclass(frozen=True)
class Placeholder:
    """Code standing in for code still to write.

    start, end: the range to replace. body_start, body_end: the body block it sits in.
    kind: "pass", "ellipsis", "not_implemented" (raise NotImplementedError), "todo" (a
    TODO/FIXME comment) or "empty_body" (nothing after the docstring; the range is empty,
    where the body goes).
    """

    start: int
    end: int
    kind: str
    body_start: int
    body_end: int


_TODO = re.compile(rb"#+\s*(TODO|FIXME)\b", re.IGNORECASE)
# Bodies that are empty by design: an @overload stub must stay `...`, and an abstract
# method's `raise NotImplementedError` is its contract, like `pass` in an `except:`.
_BY_DESIGN_DECORATORS = frozenset({b"overload", b"abstractmethod"})


def _is_todo(comment: Node) -> bool:
    return _TODO.match(comment.text or b"") is not None


def _own_line(comment: Node, source: bytes) -> bool:
    line_start = comment.start_byte - comment.start_point.column  # columns count bytes
    return source[line_start : comment.start_byte].strip() == b""


def _placeholder_statement_kind(stmt: Node) -> str | None:
    if stmt.type == "pass_statement":
        return "pass"
    named = stmt.named_children
    if stmt.type == "expression_statement" and len(named) == 1 and named[0].type == "ellipsis":
        return "ellipsis"
    if stmt.type == "raise_statement" and named:
        raised = named[0]
        if raised.type == "call":
            raised = raised.child_by_field_name("function") or raised
        if raised.type == "identifier" and raised.text == b"NotImplementedError":
            return "not_implemented"
    return None


def _is_docstring(stmt: Node) -> bool:
    named = stmt.named_children
    return (
        stmt.type == "expression_statement"
        and len(named) == 1
        and named[0].type in ("string", "concatenated_string")
    )


def _empty_by_design(function: Node) -> bool:
    wrapper = function.parent
    if wrapper is None or wrapper.type != "decorated_definition":
        return False
    for decorator in wrapper.named_children:
        if decorator.type == "decorator":
            name = (decorator.text or b"").lstrip(b"@").strip().rsplit(b".", 1)[-1]
            if name in _BY_DESIGN_DECORATORS:
                return True
    return False


def _function_body_items(function: Node, body: Node, source: bytes) -> list[Node]:
    """The statements and comments of a function body, wherever the grammar put them.

    tree-sitter-python attaches comments before the first statement to the definition
    rather than the block, and when a body holds only comments (which Python rejects) it
    leaves the block empty and the comments at the outer level.
    """
    items = [
        c
        for c in function.children
        if c.type == "comment" and c.end_byte <= body.start_byte and _own_line(c, source)
    ]
    items += body.named_children
    if body.start_byte == body.end_byte:
        parent = function.parent
        outer = parent if parent is not None and parent.type == "decorated_definition" else function
        sibling = outer.next_sibling
        while (
            sibling is not None
            and sibling.type == "comment"
            and _own_line(sibling, source)
            and sibling.start_point.column > outer.start_point.column
        ):
            items.append(sibling)
            sibling = sibling.next_sibling
    return sorted(items, key=lambda n: n.start_byte)


def _whole_body_placeholder(function: Node, source: bytes) -> Placeholder | None:
    """The placeholder a function body consists of, if that is all it holds."""
    body = function.child_by_field_name("body")
    if body is None or _empty_by_design(function):
        return None
    items = _function_body_items(function, body, source)
    statements = [n for n in items if n.type != "comment"]
    docstring = statements[0] if statements and _is_docstring(statements[0]) else None
    # Comments above a docstring are left to the comment scan: the range must not take it in.
    rest = [n for n in items if docstring is None or n.start_byte >= docstring.end_byte]
    comments = [n for n in rest if n.type == "comment"]
    code = [n for n in rest if n.type != "comment"]

    if len(code) > 1 or (code and _placeholder_statement_kind(code[0]) is None):
        return None
    # The body as the user sees it: the block plus the comments the grammar left outside.
    spans = [(n.start_byte, n.end_byte) for n in items]
    if body.start_byte < body.end_byte or not spans:
        spans.append((body.start_byte, body.end_byte))
    body_start, body_end = min(s for s, _ in spans), max(e for _, e in spans)

    def found(start: int, end: int, kind: str) -> Placeholder:
        return Placeholder(start, end, kind, body_start, body_end)

    if any(_is_todo(c) for c in comments):
        # Everything after the docstring is the to-do: its comments and any `pass`.
        return found(rest[0].start_byte, rest[-1].end_byte, "todo")
    if code:
        kind = _placeholder_statement_kind(code[0])
        assert kind is not None
        return found(code[0].start_byte, code[0].end_byte, kind)
    # Nothing to run: the body goes after the docstring and any comments.
    before = [docstring, *comments] if docstring else comments
    at = max((n.end_byte for n in before), default=body.start_byte)
    return found(at, at, "empty_body")


def _comment_body(comment: Node) -> Node | None:
    """The body block a comment sits in, or None at the top level."""
    parent = comment.parent
    if parent is None:
        return None
    if parent.type == "block":
        return parent
    # A comment between a header's `:` and its block belongs to that block.
    sibling = comment.next_named_sibling
    while sibling is not None and sibling.type == "comment":
        sibling = sibling.next_named_sibling
    if sibling is not None and sibling.type == "block":
        return sibling
    return next((a for a in ancestors(comment) if a.type == "block"), None)


def python_placeholders(tree: Tree, within: tuple[int, int] | None = None) -> list[Placeholder]:
    """Python's placeholders, sorted and non-overlapping.

    within: only placeholders overlapping this byte range (all when None).
    """
    source = source_of(tree)
    found: list[Placeholder] = []
    todo_comments: list[Node] = []
    for node in walk(tree, within):
        if node.type == "function_definition":
            whole = _whole_body_placeholder(node, source)
            if whole is not None:
                found.append(whole)
        elif node.type == "comment" and _is_todo(node) and _own_line(node, source):
            todo_comments.append(node)
    for comment in todo_comments:
        body = _comment_body(comment)
        inside_other = any(
            p.start <= comment.start_byte and comment.end_byte <= p.end for p in found
        )
        if body is not None and not inside_other:
            # The comment may sit above the block it belongs to (see _function_body_items).
            found.append(
                Placeholder(
                    comment.start_byte,
                    comment.end_byte,
                    "todo",
                    min(body.start_byte, comment.start_byte),
                    max(body.end_byte, comment.end_byte),
                )
            )
    if within is not None:
        found = [p for p in found if p.start <= within[1] and within[0] <= p.end]
    return sorted(found, key=lambda p: (p.start, p.end))
