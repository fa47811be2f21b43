"""Where infilling spans are drawn from: the syntax units of a file (statements, blocks,
expressions, found with tree-sitter), lines, runs of lines and random character spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import tree_sitter
import tree_sitter_python


@dataclass
class SourceFile:
    path: str
    text: str
    # (start_char, end_char) of syntax units that make good infilling spans; parsed on
    # first use, since most files of a large corpus are never sampled in a short run
    _units: list[tuple[int, int]] | None = field(default=None, repr=False)

    @property
    def units(self) -> list[tuple[int, int]]:
        if self._units is None:
            self._units = syntax_units(self.text)
        return self._units


# Node types whose extent is a natural thing to ask a model to write.
_UNIT_TYPES = frozenset(
    {
        "expression_statement",
        "return_statement",
        "if_statement",
        "for_statement",
        "while_statement",
        "with_statement",
        "try_statement",
        "function_definition",
        "class_definition",
        "decorated_definition",
        "raise_statement",
        "assert_statement",
        "import_statement",
        "import_from_statement",
        "block",
        "call",
        "argument_list",
        "parameters",
        "string",
        "list",
        "dictionary",
        "binary_operator",
        "boolean_operator",
        "comparison_operator",
        "lambda",
        "list_comprehension",
        "conditional_expression",
    }
)

_PARSER: tree_sitter.Parser | None = None


def parse_python(data: bytes) -> tree_sitter.Tree:
    """The tree-sitter tree of Python source `data` (one parser, made on first use)."""
    global _PARSER
    if _PARSER is None:
        _PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))
    return _PARSER.parse(data)


def syntax_units(text: str, max_chars: int = 1200) -> list[tuple[int, int]]:
    """Character ranges of syntax nodes in `text` worth masking whole."""
    data = text.encode("utf-8")
    tree = parse_python(data)
    # tree-sitter reports byte offsets; spans are drawn in characters.
    byte_to_char = _byte_to_char_table(text, data)
    units: list[tuple[int, int]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type in _UNIT_TYPES and not node.has_error:
            a, b = byte_to_char[node.start_byte], byte_to_char[node.end_byte]
            if 0 < b - a <= max_chars:
                units.append((a, b))
        stack.extend(node.children)
    units.sort()
    return units


def _byte_to_char_table(text: str, data: bytes) -> list[int]:
    if len(data) == len(text):
        return list(range(len(text) + 1))
    table = [0] * (len(data) + 1)
    pos = 0
    for i, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        for k in range(n):
            table[pos + k] = i
        pos += n
    table[pos] = len(text)
    return table


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _skip_indent(text: str, start: int, end: int) -> int:
    while start < end and text[start] in " \t":
        start += 1
    return start


def sample_spans(f: SourceFile, lo: int, hi: int, rng, count: int) -> list[tuple[int, int]]:
    """Up to `count` non-overlapping character spans inside [lo, hi) of `f.text`.

    The mix: whole syntax units (statements, blocks, bodies, expressions), single lines
    with or without their indentation, runs of lines, and random character spans (a cursor
    in the middle of a word).
    """
    text = f.text
    units = [u for u in f.units if u[0] >= lo and u[1] <= hi] if f.units else []
    chosen: list[tuple[int, int]] = []
    for _ in range(count * 4):
        if len(chosen) >= count or hi - lo < 8:
            break
        kind = rng.random()
        if kind < 0.4 and units:
            a, b = rng.choice(units)
        elif kind < 0.6:
            a, b = _line_bounds(text, rng.randrange(lo, hi))
            if rng.random() < 0.6:
                a = _skip_indent(text, a, b)
        elif kind < 0.75:
            a, _ = _line_bounds(text, rng.randrange(lo, hi))
            b = a
            for _ in range(rng.randint(2, 8)):
                _, b = _line_bounds(text, b)
                if b + 1 >= hi:
                    break
                b += 1
            b -= 1 if b > a and text[b - 1] == "\n" else 0
            if rng.random() < 0.5:
                a = _skip_indent(text, a, b)
        else:
            a = rng.randrange(lo, hi)
            b = a + max(1, int(rng.expovariate(1 / 40)))
        a, b = max(a, lo), min(b, hi)
        if b - a < 1 or not text[a:b].strip():
            continue
        if any(a <= d and c <= b for c, d in chosen):  # overlapping or touching
            continue
        chosen.append((a, b))
    return sorted(chosen)
