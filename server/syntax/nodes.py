"""Walking a tree-sitter tree: the nodes covering a range, document-order walks, ancestors,
and the line arithmetic on the source a tree was parsed from. Byte offsets throughout."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node, Tree


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    # Zero-width ranges (a MISSING node, a cursor) count when they touch the other range.
    if a_start == a_end or b_start == b_end:
        return a_start <= b_end and b_start <= a_end
    return a_start < b_end and b_start < a_end


def covering_chain(tree: Tree, start: int, end: int) -> list[Node]:
    """The nodes covering [start, end), from the root down to the deepest.

    An empty range (a cursor) is covered by a node that contains it, or else by one that
    ends there, so a cursor just after `x = 1` is on that statement.
    """
    chain = [tree.root_node]
    while True:
        children = chain[-1].children
        if start < end:
            inside = [c for c in children if c.start_byte <= start and end <= c.end_byte]
        else:
            inside = [c for c in children if c.start_byte <= start < c.end_byte] or [
                c for c in children if c.start_byte <= start <= c.end_byte
            ]
        if not inside:
            return chain
        chain.append(inside[0])


def walk(tree: Tree, within: tuple[int, int] | None = None) -> Iterator[Node]:
    """Nodes in document order; with `within`, only those overlapping that byte range
    (whole subtrees elsewhere are skipped, which keeps a lookup at a cursor cheap)."""
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if within is not None and (node.end_byte < within[0] or node.start_byte > within[1]):
            continue
        yield node
        stack.extend(reversed(node.children))


def ancestors(node: Node) -> Iterator[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def source_of(tree: Tree) -> bytes:
    """The bytes the tree was parsed from, for looking at lines."""
    root = tree.root_node
    text = root.text or b""  # None only for trees parsed from a read callback
    # Grammars leave leading blank lines out of the root; rebuild them as whitespace with
    # the same length and the same last newline, which is all line arithmetic needs.
    row, column = root.start_point
    lead = root.start_byte
    return b" " * (lead - row - column) + b"\n" * row + b" " * column + text


def line_bounds(source: bytes, start: int, end: int) -> tuple[int, int]:
    """[start of the line holding `start`, end of the line holding `end`), newline excluded."""
    line_start = source.rfind(b"\n", 0, start) + 1
    line_end = source.find(b"\n", end)
    return line_start, len(source) if line_end < 0 else line_end
