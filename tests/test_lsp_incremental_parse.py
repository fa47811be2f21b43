"""The server reparses incrementally: a document after each change, and each candidate the
engine splices into a document; the tree must equal a fresh parse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from diffill.server import syntax
from diffill.server.document import Document
from diffill.server.editing.parsed import ParsedDocument
from diffill.server.lsp.documents import edit_tree as _edit_tree

PY = syntax.language_for_name("python")
BASE = 'def f(x):\r\n    s = "héllo 😀"\n    return (x\n\nclass A:\n    pass\n'

pieces = st.sampled_from(["", "x", ")", "😀", "\n", "\r\n", "    ", "def g():\n    pass\n", "("])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20), pieces), max_size=6))
def test_incremental_reparse_equals_a_fresh_parse(changes):
    doc = Document(BASE)
    tree = syntax.parse(doc.text.encode(), PY)
    for at, length, text in changes:
        start = min(at, len(doc.text))
        end = min(start + length, len(doc.text))
        new = Document(doc.text[:start] + text + doc.text[end:])
        _edit_tree(tree, doc, new, start, end, start + len(text))
        tree = syntax.parse(new.text.encode(), PY, tree)
        doc = new
    fresh = syntax.parse(doc.text.encode(), PY)
    assert str(tree.root_node) == str(fresh.root_node)
    assert syntax.syntax_issues(tree, PY) == syntax.syntax_issues(fresh, PY)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 200), st.integers(0, 20), st.lists(pieces, max_size=4))
def test_a_spliced_candidate_parses_as_a_fresh_parse(at, length, texts):
    parsed = ParsedDocument.parse(Document(BASE), PY)
    start = min(at, len(BASE))
    end = min(start + length, len(BASE))
    candidate = parsed.splice(start, end, "".join(texts))
    fresh = syntax.parse(candidate.doc.text.encode(), PY)
    assert candidate.doc.text == BASE[:start] + "".join(texts) + BASE[end:]
    assert str(candidate.tree.root_node) == str(fresh.root_node)
    assert candidate.issues == syntax.syntax_issues(fresh, PY)
    assert str(parsed.tree.root_node) == str(syntax.parse(BASE.encode(), PY).root_node)
