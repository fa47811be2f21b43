"""Tree-sitter for the editing engine: the language registry, parsing, syntax errors,
nodes at a range, snapping a selection to whole statements, and placeholders to fill.

Every offset here is a byte offset into the UTF-8 source, as tree-sitter counts; converting
editor positions (utf-16 columns, lines) to bytes is the caller's job. Grammars come from
the individual `tree_sitter_<lang>` wheels, never fetched at run time. Every function is
pure: it takes source bytes or a parsed tree and returns plain values.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Query, QueryCursor, QueryError, Tree


class UnsupportedLanguage(ValueError):
    """A language name, alias or file extension with no grammar in the registry."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f'unsupported language: "{name}"; supported: {", ".join(language_names())}'
        )

    def __reduce__(self) -> tuple[type[UnsupportedLanguage], tuple[str]]:
        # Rebuild from the name, not the message, so the error survives pickling intact.
        return (type(self), (self.name,))


@dataclass(frozen=True)
class LanguageSpec:
    """One grammar and what the engine needs to know about its node types.

    statement_types: nodes that are whole statements or declarations (snapping, fix spans).
    body_types: nodes whose named children are a list of statements (function, loop and
        branch bodies). A named child of one counts as a statement even when its type is
        not listed, which catches Rust's tail expression and any kind missed here.
    comment_types: comment nodes.
    grammar: returns the grammar's `TSLanguage` pointer (from its wheel).
    """

    name: str
    extensions: tuple[str, ...]
    statement_types: frozenset[str]
    body_types: frozenset[str]
    comment_types: frozenset[str]
    grammar: Callable[[], object] = field(repr=False, compare=False)

    @property
    def language(self) -> Language:
        return _ts_language(self.name)


_PYTHON_STATEMENTS = frozenset(
    {
        "expression_statement",
        "return_statement",
        "pass_statement",
        "raise_statement",
        "assert_statement",
        "delete_statement",
        "global_statement",
        "nonlocal_statement",
        "import_statement",
        "import_from_statement",
        "future_import_statement",
        "print_statement",
        "exec_statement",
        "type_alias_statement",
        "break_statement",
        "continue_statement",
        "if_statement",
        "for_statement",
        "while_statement",
        "try_statement",
        "with_statement",
        "match_statement",
        "function_definition",
        "class_definition",
        "decorated_definition",
    }
)

# `empty_statement` is left out in every language: JavaScript's `for (;;)` header is made
# of them, and a lone `;` is never what a user means by "this statement".
_JAVASCRIPT_STATEMENTS = frozenset(
    {
        "expression_statement",
        "return_statement",
        "throw_statement",
        "break_statement",
        "continue_statement",
        "debugger_statement",
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "switch_statement",
        "with_statement",
        "labeled_statement",
        "import_statement",
        "export_statement",
        "lexical_declaration",
        "variable_declaration",
        "using_declaration",
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "method_definition",
        "field_definition",
        "class_static_block",
    }
)

_TYPESCRIPT_STATEMENTS = _JAVASCRIPT_STATEMENTS | frozenset(
    {
        "interface_declaration",
        "type_alias_declaration",
        "enum_declaration",
        "abstract_class_declaration",
        "ambient_declaration",
        "function_signature",
        "module",
        "internal_module",
        "public_field_definition",
        "abstract_method_signature",
        "method_signature",
        "property_signature",
        "index_signature",
        "call_signature",
        "construct_signature",
    }
)

_GO_STATEMENTS = frozenset(
    {
        "expression_statement",
        "send_statement",
        "inc_statement",
        "dec_statement",
        "assignment_statement",
        "short_var_declaration",
        "return_statement",
        "go_statement",
        "defer_statement",
        "if_statement",
        "for_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
        "labeled_statement",
        "fallthrough_statement",
        "break_statement",
        "continue_statement",
        "goto_statement",
        "var_declaration",
        "const_declaration",
        "type_declaration",
        "import_declaration",
        "package_clause",
        "function_declaration",
        "method_declaration",
    }
)

_RUST_STATEMENTS = frozenset(
    {
        "expression_statement",
        "let_declaration",
        "function_item",
        "function_signature_item",
        "impl_item",
        "struct_item",
        "enum_item",
        "union_item",
        "trait_item",
        "type_item",
        "const_item",
        "static_item",
        "mod_item",
        "use_declaration",
        "extern_crate_declaration",
        "foreign_mod_item",
        "macro_definition",
        "attribute_item",
        "inner_attribute_item",
    }
)

_JAVA_STATEMENTS = frozenset(
    {
        "expression_statement",
        "local_variable_declaration",
        "return_statement",
        "throw_statement",
        "break_statement",
        "continue_statement",
        "yield_statement",
        "if_statement",
        "for_statement",
        "enhanced_for_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "try_with_resources_statement",
        "synchronized_statement",
        "labeled_statement",
        "assert_statement",
        # The grammar parses a switch statement as a `switch_expression` directly in a block.
        "switch_expression",
        "explicit_constructor_invocation",
        "package_declaration",
        "import_declaration",
        "module_declaration",
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
        "annotation_type_element_declaration",
        "method_declaration",
        "constructor_declaration",
        "compact_constructor_declaration",
        "field_declaration",
        "constant_declaration",
        "static_initializer",
    }
)

_JS_COMMENTS = frozenset({"comment", "html_comment"})

_SPECS: tuple[LanguageSpec, ...] = (
    LanguageSpec(
        "python",
        (".py", ".pyi"),
        _PYTHON_STATEMENTS,
        frozenset({"block"}),
        frozenset({"comment"}),
        tree_sitter_python.language,
    ),
    LanguageSpec(
        "javascript",
        (".js", ".mjs", ".cjs", ".jsx"),
        _JAVASCRIPT_STATEMENTS,
        frozenset({"statement_block"}),
        _JS_COMMENTS,
        tree_sitter_javascript.language,
    ),
    LanguageSpec(
        "typescript",
        (".ts", ".mts", ".cts"),
        _TYPESCRIPT_STATEMENTS,
        frozenset({"statement_block"}),
        _JS_COMMENTS,
        tree_sitter_typescript.language_typescript,
    ),
    LanguageSpec(
        "tsx",
        (".tsx",),
        _TYPESCRIPT_STATEMENTS,
        frozenset({"statement_block"}),
        _JS_COMMENTS,
        tree_sitter_typescript.language_tsx,
    ),
    LanguageSpec(
        "go",
        (".go",),
        _GO_STATEMENTS,
        frozenset({"statement_list"}),
        frozenset({"comment"}),
        tree_sitter_go.language,
    ),
    LanguageSpec(
        "rust",
        (".rs",),
        _RUST_STATEMENTS,
        frozenset({"block"}),
        frozenset({"line_comment", "block_comment"}),
        tree_sitter_rust.language,
    ),
    LanguageSpec(
        "java",
        (".java",),
        _JAVA_STATEMENTS,
        frozenset({"block", "constructor_body"}),
        frozenset({"line_comment", "block_comment"}),
        tree_sitter_java.language,
    ),
)

_BY_NAME: dict[str, LanguageSpec] = {spec.name: spec for spec in _SPECS}
_BY_EXTENSION: dict[str, LanguageSpec] = {ext: spec for spec in _SPECS for ext in spec.extensions}
# Short names people type, plus the LSP languageIds editors send for these languages.
_ALIASES: dict[str, str] = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "jsx": "javascript",
    "javascriptreact": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "typescriptreact": "tsx",
    "golang": "go",
    "rs": "rust",
}


def language_names() -> list[str]:
    """The canonical names of the supported languages, in registry order."""
    return [spec.name for spec in _SPECS]


def language_for_name(name: str) -> LanguageSpec:
    """The language called `name` (or an alias such as "py", "ts", an LSP languageId)."""
    key = name.strip().lower()
    spec = _BY_NAME.get(_ALIASES.get(key, key))
    if spec is None:
        raise UnsupportedLanguage(name)
    return spec


def language_for_path(path: str | os.PathLike[str]) -> LanguageSpec:
    """The language of a file, by its extension (case-insensitive)."""
    _, ext = os.path.splitext(os.fspath(path))
    spec = _BY_EXTENSION.get(ext.lower())
    if spec is None:
        raise UnsupportedLanguage(os.fspath(path))
    return spec


@cache
def _ts_language(name: str) -> Language:
    return Language(_BY_NAME[name].grammar())


# A Parser carries mutable state and the server parses from worker threads, so each thread
# keeps its own parser per language; Languages are immutable and shared.
_parsers = threading.local()


def parse(source: bytes, lang: LanguageSpec, old_tree: Tree | None = None) -> Tree:
    """Parse UTF-8 `source`. Never raises on bad syntax: errors become ERROR/MISSING nodes.

    old_tree: the previous version's tree with `Tree.edit` applied for every change since;
    tree-sitter then reparses only what changed (milliseconds for a large file).
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
    return parser.parse(source, old_tree) if old_tree is not None else parser.parse(source)


# --- syntax errors -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntaxIssue:
    """One ERROR node ("error") or MISSING node ("missing", zero width) of a tree."""

    start: int
    end: int
    kind: str
    message: str


def _issue_nodes(tree: Tree) -> Iterator[Node]:
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
def _block_query(language: Language) -> Query:
    return Query(language, "(block) @block")


def _empty_python_blocks(tree: Tree) -> Iterator[SyntaxIssue]:
    """Python bodies holding no statement (only comments, or nothing).

    tree-sitter's Python grammar accepts them; Python does not ("expected an indented
    block"). Without this check a fill that turns `pass` into a comment would pass as clean.
    """
    if tree.language.name != "python":
        return
    for node in QueryCursor(_block_query(tree.language)).captures(tree.root_node).get("block", []):
        if all(child.type == "comment" for child in node.named_children) and not node.has_error:
            # The block starts after the colon; an empty one may be zero-width.
            yield SyntaxIssue(node.start_byte, node.end_byte, "missing", "missing the body")


def syntax_issues(tree: Tree) -> list[SyntaxIssue]:
    """Every outermost ERROR node and every MISSING node not inside one, and every Python
    body without a statement, sorted by start."""
    issues = [_issue(node) for node in _issue_nodes(tree)]
    issues += _empty_python_blocks(tree)
    return sorted(issues, key=lambda issue: (issue.start, issue.end))


def count_errors(tree: Tree) -> int:
    return len(syntax_issues(tree))


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    # Zero-width ranges (a MISSING node, a cursor) count when they touch the other range.
    if a_start == a_end or b_start == b_end:
        return a_start <= b_end and b_start <= a_end
    return a_start < b_end and b_start < a_end


def errors_in_range(tree: Tree, start: int, end: int) -> int:
    """How many syntax issues overlap [start, end)."""
    return sum(_overlaps(i.start, i.end, start, end) for i in syntax_issues(tree))


# --- nodes and statements ------------------------------------------------------------------


def _covering_chain(tree: Tree, start: int, end: int) -> list[Node]:
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


def node_at(tree: Tree, start: int, end: int) -> Node:
    """The smallest named node covering [start, end) (the root when nothing smaller does)."""
    for node in reversed(_covering_chain(tree, start, end)):
        if node.is_named:
            return node
    return tree.root_node


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
    inner_start, inner_end = _trim_whitespace(_source(tree), start, end)
    for node in reversed(_covering_chain(tree, inner_start, inner_end)):
        if _is_statement(node, lang):
            return node.start_byte, node.end_byte
        if inner_start < inner_end:
            touched = [
                c
                for c in node.children
                if _overlaps(c.start_byte, c.end_byte, inner_start, inner_end)
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
    line_start, line_end = _line_bounds(source, start, start)
    rest_of_line = source[start:line_end]
    if source[line_start:start].strip() == b"" and rest_of_line.strip():
        start += len(rest_of_line) - len(rest_of_line.lstrip())
    return start, start


def _source(tree: Tree) -> bytes:
    """The bytes the tree was parsed from, for looking at lines."""
    root = tree.root_node
    text = root.text or b""  # None only for trees parsed from a read callback
    # Grammars leave leading blank lines out of the root; rebuild them as whitespace with
    # the same length and the same last newline, which is all line arithmetic needs.
    row, column = root.start_point
    lead = root.start_byte
    return b" " * (lead - row - column) + b"\n" * row + b" " * column + text


def _line_bounds(source: bytes, start: int, end: int) -> tuple[int, int]:
    """[start of the line holding `start`, end of the line holding `end`), newline excluded."""
    line_start = source.rfind(b"\n", 0, start) + 1
    line_end = source.find(b"\n", end)
    return line_start, len(source) if line_end < 0 else line_end


def fix_span(tree: Tree, lang: LanguageSpec, issue: SyntaxIssue) -> tuple[int, int]:
    """The range to regenerate to repair `issue`: its smallest enclosing statement, or, for an
    error with no statement around it, the error's own lines."""
    node = next(
        (n for n in _issue_nodes(tree) if (n.start_byte, n.end_byte) == (issue.start, issue.end)),
        None,
    )
    if node is None:  # an issue from another tree: go by its range
        node = _covering_chain(tree, issue.start, issue.end)[-1]
    for ancestor in _ancestors(node):
        if _is_statement(ancestor, lang):
            return ancestor.start_byte, ancestor.end_byte
    return _line_bounds(_source(tree), issue.start, issue.end)


def _ancestors(node: Node) -> Iterator[Node]:
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


# --- placeholders --------------------------------------------------------------------------


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
    return next((a for a in _ancestors(comment) if a.type == "block"), None)


def _walk(tree: Tree, within: tuple[int, int] | None = None) -> Iterator[Node]:
    """Nodes in document order; with `within`, only those overlapping that byte range
    (whole subtrees elsewhere are skipped, which keeps a lookup at a cursor cheap)."""
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if within is not None and (node.end_byte < within[0] or node.start_byte > within[1]):
            continue
        yield node
        stack.extend(reversed(node.children))


def placeholders(
    tree: Tree, lang: LanguageSpec, within: tuple[int, int] | None = None
) -> list[Placeholder]:
    """Placeholders to fill, sorted and non-overlapping. Python only; other languages: [].

    within: only placeholders overlapping this byte range (all when None).
    """
    if lang.name != "python":
        return []
    source = _source(tree)
    found: list[Placeholder] = []
    todo_comments: list[Node] = []
    for node in _walk(tree, within):
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


def placeholder_at(tree: Tree, lang: LanguageSpec, offset: int) -> Placeholder | None:
    """The placeholder containing `offset`, or else the first one on the same line."""
    line_start, line_end = _line_bounds(_source(tree), offset, offset)
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
