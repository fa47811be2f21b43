"""Tree-sitter layer: registry, syntax issues, snapping, fix spans, placeholders, queries.

Every offset is a byte offset; sources with emoji and CJK text make sure nothing counts
characters instead.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from diffill.server.syntax import (
    LanguageSpec,
    Placeholder,
    SyntaxIssue,
    UnsupportedLanguage,
    count_errors,
    fix_span,
    language_for_name,
    language_for_path,
    language_names,
    parse,
    placeholder_at,
    placeholders,
    query_targets,
    snap_to_statements,
    syntax_issues,
)

PY = language_for_name("python")


def at(source: bytes, needle: str, occurrence: int = 0) -> int:
    """Byte offset of the `occurrence`-th `needle` in `source`."""
    offset = -1
    for _ in range(occurrence + 1):
        offset = source.index(needle.encode(), offset + 1)
    return offset


def text(source: bytes, span: tuple[int, int]) -> str:
    return source[span[0] : span[1]].decode()


def snap(source: bytes, lang: LanguageSpec, start: int, end: int) -> str:
    return text(source, snap_to_statements(parse(source, lang), lang, start, end))


# --- registry ------------------------------------------------------------------------------


def test_language_names_lists_the_seven_grammars() -> None:
    assert language_names() == ["python", "javascript", "typescript", "tsx", "go", "rust", "java"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("python", "python"),
        ("py", "python"),
        ("PY", "python"),
        ("js", "javascript"),
        ("ts", "typescript"),
        ("typescriptreact", "tsx"),
        ("golang", "go"),
        ("rs", "rust"),
        ("java", "java"),
    ],
)
def test_language_for_name_accepts_aliases(name: str, expected: str) -> None:
    assert language_for_name(name).name == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.py", "python"),
        ("stub.pyi", "python"),
        ("x.mjs", "javascript"),
        ("App.jsx", "javascript"),
        ("m.cts", "typescript"),
        ("App.tsx", "tsx"),
        ("main.go", "go"),
        (Path("src/lib.rs"), "rust"),
        ("A.java", "java"),
        ("SHOUT.PY", "python"),
    ],
)
def test_language_for_path_goes_by_extension(path: str | Path, expected: str) -> None:
    assert language_for_path(path).name == expected


def test_unsupported_language_names_what_is_supported() -> None:
    with pytest.raises(UnsupportedLanguage) as info:
        language_for_name("cobol")
    assert str(info.value) == (
        'unsupported language: "cobol"; supported: '
        "python, javascript, typescript, tsx, go, rust, java"
    )
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnsupportedLanguage, match=r'"notes/todo\.txt"'):
        language_for_path("notes/todo.txt")
    with pytest.raises(UnsupportedLanguage, match='"Makefile"'):
        language_for_path("Makefile")
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value)


def test_parse_takes_bytes_only() -> None:
    with pytest.raises(TypeError, match="bytes"):
        parse("x = 1", PY)  # type: ignore[arg-type]


# --- syntax issues -------------------------------------------------------------------------

# (language, valid source, broken source, text of the first issue, its kind)
SNIPPETS = [
    (
        "python",
        "def f(x):\n    return x + 1\n",
        "def f(x):\n    return (x +\n",
        "return (x +",
        "error",
    ),
    (
        "javascript",
        "function f(x) { return x + 1; }\n",
        "function f(x) { return (x + 1 }\n",
        "return (x + 1",
        "error",
    ),
    ("typescript", "let x: number = (1);\n", "let x: number = (1;\n", "", "missing"),
    (
        "tsx",
        "const a = <div>{x}</div>;\n",
        "const a = <div>{x</div>;\n",
        "const a = <div>{x</div>;",
        "error",
    ),
    (
        "go",
        "package main\n\nfunc main() {\n\tx := 1\n\t_ = x\n}\n",
        "package main\n\nfunc main() {\n\tx := 1\n",
        "",
        "missing",
    ),
    ("rust", "fn main() { let x = 1; }\n", "fn main() { let x = 1 }\n", "", "missing"),
    (
        "java",
        "class A { void f() { int x = 1; } }\n",
        "class A { void f() { int x = 1 } }\n",
        "",
        "missing",
    ),
]


@pytest.mark.parametrize(
    ("name", "valid", "broken", "issue_text", "kind"), SNIPPETS, ids=[s[0] for s in SNIPPETS]
)
def test_valid_and_broken_snippets(
    name: str, valid: str, broken: str, issue_text: str, kind: str
) -> None:
    lang = language_for_name(name)
    assert syntax_issues(parse(valid.encode(), lang), lang) == []
    assert count_errors(parse(valid.encode(), lang), lang) == 0
    source = broken.encode()
    issues = syntax_issues(parse(source, lang), lang)
    assert count_errors(parse(source, lang), lang) == len(issues) >= 1
    assert (text(source, (issues[0].start, issues[0].end)), issues[0].kind) == (issue_text, kind)


def test_missing_nodes_are_zero_width_and_say_what_is_missing() -> None:
    source = "s = '😀 中文'\ndef f(:\n    pass\n".encode()
    [issue] = syntax_issues(parse(source, PY), PY)
    assert issue == SyntaxIssue(at(source, ":"), at(source, ":"), "missing", 'missing ")"')
    # Offsets are bytes: the emoji and the CJK characters take 4 + 3 + 3 bytes.
    assert issue.start == len("s = '😀 中文'\ndef f(".encode()) != len("s = '😀 中文'\ndef f(")

    go = language_for_name("go")
    source = b"package main\nfunc main() {\n\tif x {\n\t\ty()\n}\n"
    [issue] = syntax_issues(parse(source, go), go)
    assert (issue.kind, issue.message, issue.start == issue.end) == ("missing", 'missing "}"', True)


def test_errors_after_non_ascii_text_have_byte_offsets() -> None:
    source = 'greeting = "héllo 😀 世界"\nprint((1)\n'.encode()
    [issue] = syntax_issues(parse(source, PY), PY)
    assert issue.kind == "error" and issue.message == "syntax error"
    assert text(source, (issue.start, issue.end)) == "print((1)"
    assert issue.start == at(source, "print")


@pytest.mark.parametrize(
    "source",
    [
        b"def f():\n    # compute it\n\nx = 1\n",
        b"def f():\n\nx = 1\n",
        b"if x:\n    pass\nelse:\n    # nothing\n",
        b"class A:\n",
    ],
)
def test_a_python_body_without_a_statement_is_an_issue(source: bytes) -> None:
    # tree-sitter's grammar accepts these; Python says "expected an indented block".
    with pytest.raises(SyntaxError):
        compile(source, "t.py", "exec")
    [issue] = syntax_issues(parse(source, PY), PY)
    assert (issue.kind, issue.message) == ("missing", "missing the body")


def test_bodies_with_statements_and_other_languages_empty_blocks_are_fine() -> None:
    ok = b"class A:\n    # a note\n    def g(self):\n        return 1  # done\n"
    compile(ok, "t.py", "exec")
    assert syntax_issues(parse(ok, PY), PY) == []
    js, rust = language_for_name("javascript"), language_for_name("rust")
    assert syntax_issues(parse(b"function f() {}\n", js), js) == []
    assert syntax_issues(parse(b"fn main() {}\n", rust), rust) == []


def test_issues_are_sorted_and_nothing_inside_an_error_is_listed_again() -> None:
    source = b"def f(:\n    pass\n\nx = (1 +\n\ny = [1, 2\n"
    issues = syntax_issues(parse(source, PY), PY)
    assert [i.start for i in issues] == sorted(i.start for i in issues)
    for outer in issues:
        for inner in issues:
            if outer is not inner and outer.kind == "error":
                assert not (
                    outer.start <= inner.start
                    and inner.end <= outer.end
                    and (inner.start, inner.end) != (outer.start, outer.end)
                )


def test_an_error_inside_brackets_is_the_stray_operator() -> None:
    source = "ok = '✓'\nbroken = [1 +]\nfine = 2\n".encode()
    tree = parse(source, PY)
    [issue] = syntax_issues(tree, PY)
    assert text(source, (issue.start, issue.end)) == "+"


# --- nodes and statements ------------------------------------------------------------------


PY_BODY = b"""import os


def f(x):
    a = 1
    b = 2
    if x:
        c = 3
        d = 4
    return a


class C:
    pass
"""


def test_snap_grows_a_selection_inside_a_line_to_its_statement() -> None:
    start = at(PY_BODY, "= 1")
    assert snap(PY_BODY, PY, start, start + 1) == "a = 1"


def test_snap_covers_every_statement_a_selection_touches() -> None:
    assert snap(PY_BODY, PY, at(PY_BODY, "1\n"), at(PY_BODY, "= 2")) == "a = 1\n    b = 2"


def test_snap_inside_a_nested_if() -> None:
    assert snap(PY_BODY, PY, at(PY_BODY, "3"), at(PY_BODY, "3")) == "c = 3"
    assert snap(PY_BODY, PY, at(PY_BODY, "3"), at(PY_BODY, "4")) == "c = 3\n        d = 4"


def test_snap_from_a_nested_statement_to_an_outer_one_takes_the_outer_statements() -> None:
    got = snap(PY_BODY, PY, at(PY_BODY, "d = 4"), at(PY_BODY, "return") + 3)
    assert got == "if x:\n        c = 3\n        d = 4\n    return a"


def test_snap_moves_whole_line_selections_onto_the_code() -> None:
    # Line-wise selections start at column 0; a cursor in the indentation is on that line.
    line = at(PY_BODY, "    b = 2")
    assert snap(PY_BODY, PY, line, at(PY_BODY, "    if")) == "b = 2"
    assert snap(PY_BODY, PY, line, line) == "b = 2"


def test_snap_leaves_whitespace_between_definitions_unchanged() -> None:
    gap = at(PY_BODY, "\n\n\nclass") + 1
    tree = parse(PY_BODY, PY)
    assert snap_to_statements(tree, PY, gap, gap + 1) == (gap, gap + 1)
    assert snap_to_statements(tree, PY, gap, gap) == (gap, gap)
    assert snap_to_statements(tree, PY, len(PY_BODY), len(PY_BODY)) == (len(PY_BODY),) * 2


def test_snap_rejects_a_reversed_range() -> None:
    with pytest.raises(ValueError, match="start"):
        snap_to_statements(parse(PY_BODY, PY), PY, 5, 2)


def test_snap_never_cuts_a_statement() -> None:
    source = "def f(xs):\n    s = '😀'\n    for x in xs:\n        s += x\n    return s\n".encode()
    tree = parse(source, PY)
    statements = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type in PY.statement_types:
            statements.append((node.start_byte, node.end_byte))
    for start in range(0, len(source), 3):
        for end in range(start, len(source), 5):
            lo, hi = snap_to_statements(tree, PY, start, end)
            for s, e in statements:
                inside = lo <= s and e <= hi
                around = s <= lo and hi <= e
                apart = e <= lo or hi <= s
                assert inside or around or apart, (start, end, lo, hi, s, e)


@pytest.mark.parametrize(
    ("name", "source", "sel_from", "sel_to", "expected"),
    [
        (
            "javascript",
            "function f() {\n  const a = 1;\n  g(a);\n}\n",
            "1;",
            "g(a",
            "const a = 1;\n  g(a);",
        ),
        (
            "typescript",
            "class A {\n  x: number = 1;\n  m(): void { this.x++; }\n}\n",
            "++",
            "++",
            "this.x++;",
        ),
        ("go", "package main\nfunc main() {\n\tx := 1; y := 2\n}\n", "1", "2", "x := 1; y := 2"),
        ("rust", "fn f() -> i32 {\n    let x = 1;\n    x + 1\n}\n", "+", "+", "x + 1"),
        (
            "java",
            "class A {\n  void f() {\n    int x = 1;\n    x++;\n  }\n}\n",
            "1",
            "++",
            "int x = 1;\n    x++;",
        ),
    ],
)
def test_snap_in_other_languages(
    name: str, source: str, sel_from: str, sel_to: str, expected: str
) -> None:
    data = source.encode()
    start, end = at(data, sel_from), at(data, sel_to) + len(sel_to)
    assert snap(data, language_for_name(name), start, end) == expected


def test_fix_span_is_the_smallest_enclosing_statement() -> None:
    source = "x = '中文'\n\ndef f():\n    y = 1\n    return (y +\n\nz = 2\n".encode()
    tree = parse(source, PY)
    [issue] = syntax_issues(tree, PY)
    assert text(source, fix_span(tree, PY, issue)).startswith("def f():")

    source = b"def f():\n    if x:\n        g(1, 2\n    return 3\n"
    tree = parse(source, PY)
    spans = {text(source, fix_span(tree, PY, i)) for i in syntax_issues(tree, PY)}
    assert all(span.startswith(("if x:", "g(1")) for span in spans), spans

    java = language_for_name("java")
    source = b"class A { void f() { int x = 1 } }"
    tree = parse(source, java)
    [issue] = syntax_issues(tree, java)
    assert text(source, fix_span(tree, java, issue)) == "int x = 1"


def test_fix_span_of_a_top_level_error_is_its_whole_lines() -> None:
    source = "ok = '✓'\nx = 1; ) )\n\ny = 2\n".encode()
    tree = parse(source, PY)
    [issue] = syntax_issues(tree, PY)
    assert text(source, (issue.start, issue.end)) == ") )"
    assert text(source, fix_span(tree, PY, issue)) == "x = 1; ) )"


# --- placeholders --------------------------------------------------------------------------


def found(source: bytes) -> list[tuple[str, str]]:
    return [(p.kind, text(source, (p.start, p.end))) for p in placeholders(parse(source, PY), PY)]


def test_placeholder_kinds() -> None:
    source = b'''def a():
    pass

def b():
    ...

def c(x):
    raise NotImplementedError

def d(x):
    raise NotImplementedError("later")

def e():
    """Only a docstring."""
'''
    assert found(source) == [
        ("pass", "pass"),
        ("ellipsis", "..."),
        ("not_implemented", "raise NotImplementedError"),
        ("not_implemented", 'raise NotImplementedError("later")'),
        ("empty_body", ""),
    ]
    empty = placeholders(parse(source, PY), PY)[-1]
    assert empty.start == at(source, '"""', 1) + 3
    assert text(source, (empty.body_start, empty.body_end)) == '"""Only a docstring."""'


def test_docstring_is_kept_out_of_the_range() -> None:
    source = 'def f():\n    """Return 😀."""\n    pass\n'.encode()
    [p] = placeholders(parse(source, PY), PY)
    assert (p.kind, text(source, (p.start, p.end))) == ("pass", "pass")
    assert text(source, (p.body_start, p.body_end)) == '"""Return 😀."""\n    pass'


def test_todo_comments_as_the_whole_body() -> None:
    source = b"""def f():
    # TODO: implement
    pass

def g():
    # FIXME: write this
    # and that
"""
    assert found(source) == [
        ("todo", "# TODO: implement\n    pass"),
        ("todo", "# FIXME: write this\n    # and that"),
    ]


def test_todo_comment_lines_anywhere_in_a_body() -> None:
    source = """def f(xs):
    total = 0  # TODO trailing comments do not count
    for x in xs:
        # TODO: skip 中文 entries
        total += x
    # FIXME: overflow
    return total

# TODO: top-level notes are not in a body
""".encode()
    tree = parse(source, PY)
    got = placeholders(tree, PY)
    assert [(p.kind, text(source, (p.start, p.end))) for p in got] == [
        ("todo", "# TODO: skip 中文 entries"),
        ("todo", "# FIXME: overflow"),
    ]
    assert text(source, (got[0].body_start, got[0].body_end)) == (
        "# TODO: skip 中文 entries\n        total += x"
    )
    assert text(source, (got[1].body_start, got[1].body_end)).startswith("total = 0")


def test_idiomatic_pass_is_not_a_placeholder() -> None:
    source = b"""class Point:
    x = 0
    pass

class Empty(Exception):
    pass

def load(path):
    try:
        return open(path).read()
    except OSError:
        pass
    return None

class Base(abc.ABC):
    @abc.abstractmethod
    def run(self):
        raise NotImplementedError

    @overload
    def get(self, key: int) -> int: ...
"""
    assert found(source) == []


def test_function_with_other_code_is_not_a_placeholder() -> None:
    assert found(b"def f():\n    x = 1\n    pass\n") == []
    assert found(b"def f():\n    if x:\n        raise NotImplementedError\n    return 1\n") == []


def test_placeholders_are_sorted_and_do_not_overlap() -> None:
    source = b"""class A:
    def m(self):
        # TODO: first
        pass

    def n(self):
        x = 1
        # TODO: second
        return x

    def o(self):
        ...
"""
    got = placeholders(parse(source, PY), PY)
    assert [p.kind for p in got] == ["todo", "todo", "ellipsis"]
    assert all(a.end <= b.start for a, b in zip(got, got[1:]))


def test_placeholders_only_for_python() -> None:
    go = language_for_name("go")
    assert placeholders(parse(b"package main\n// TODO: x\nfunc f() {}\n", go), go) == []


def test_placeholder_at() -> None:
    source = 'def f():\n    """Doc 😀."""\n    pass\n\ndef g():\n    return 1\n'.encode()
    tree = parse(source, PY)
    pass_at = at(source, "pass")
    expected = Placeholder(pass_at, pass_at + 4, "pass", at(source, '"""'), pass_at + 4)
    assert placeholder_at(tree, PY, pass_at + 2) == expected
    assert placeholder_at(tree, PY, pass_at + 4) == expected
    assert placeholder_at(tree, PY, pass_at - 4) == expected  # same line, in the indentation
    assert placeholder_at(tree, PY, at(source, "Doc")) is None
    assert placeholder_at(tree, PY, at(source, "return")) is None


# --- queries -------------------------------------------------------------------------------


def test_query_targets() -> None:
    source = b"def f():\n    def g():\n        return 1\n    return g\n\ndef h():\n    pass\n"
    tree = parse(source, PY)
    got = query_targets(tree, PY, "(function_definition body: (block) @target)")
    # g's body lies inside f's, so only the outer bodies remain.
    assert [text(source, r) for r in got] == [
        "def g():\n        return 1\n    return g",
        "pass",
    ]
    names = query_targets(tree, PY, "(function_definition name: (identifier) @target)")
    assert [text(source, r) for r in names] == ["f", "g", "h"]


def test_query_targets_rejects_bad_queries() -> None:
    tree = parse(b"x = 1\n", PY)
    with pytest.raises(ValueError, match="invalid tree-sitter query for python"):
        query_targets(tree, PY, "(function_definition")
    with pytest.raises(ValueError, match="invalid tree-sitter query"):
        query_targets(tree, PY, "(no_such_node) @target")
    with pytest.raises(ValueError, match=r"@target \(captures: @body\)"):
        query_targets(tree, PY, "(function_definition body: (block) @body)")
