from __future__ import annotations

from diffill.server import syntax
from diffill.server.document import Document
from diffill.server.editing.context import build_window

PY = syntax.language_for_name("python")


def count(pieces):
    # one token per word keeps the arithmetic of these tests readable
    return [len(p.split()) for p in pieces]


def window(text: str, marker: str, budget: int):
    doc = Document.from_text(text)
    at = text.index(marker)
    tree = syntax.parse(text.encode(), PY)
    return build_window(doc, at, at + len(marker), budget, count, tree, PY)


def test_small_files_are_shown_whole():
    text = "import os\n\ndef f():\n    MARK\n\nx = 1\n"
    w = window(text, "MARK", 1000)
    assert w.prefix == "import os\n\ndef f():\n    " and w.suffix == "\n\nx = 1\n"
    assert not w.trimmed


def test_nearest_lines_first_and_budget_respected():
    lines = [f"v{i} = {i}" for i in range(200)]
    text = "\n".join(lines[:100]) + "\nMARK\n" + "\n".join(lines[100:]) + "\n"
    w = window(text, "MARK", 90)
    assert sum(count([w.prefix, w.suffix])) <= 90
    assert w.prefix.endswith("v99 = 99\n")
    assert w.suffix.startswith("\nv100 = 100")
    assert "v0 = 0" not in w.prefix
    # the prefix gets about two thirds of the room
    assert len(w.prefix.split()) > len(w.suffix.split())


def test_imports_and_enclosing_signatures_are_pinned():
    filler = "\n".join(f"        a{i} = {i}" for i in range(300))
    text = (
        "import os\nfrom typing import List\n\n\nclass Store:\n"
        "    def load(self, path: str) -> List[str]:\n"
        f"{filler}\n        MARK\n        return []\n"
    )
    w = window(text, "MARK", 120)
    assert w.prefix.startswith("import os\nfrom typing import List\n")
    assert "class Store:\n" in w.prefix
    assert "    def load(self, path: str) -> List[str]:\n" in w.prefix
    assert w.pinned == ("imports", "signatures")
    assert sum(count([w.prefix, w.suffix])) <= 120
    assert w.prefix.endswith("a299 = 299\n        ")


def test_suffix_gets_the_room_the_prefix_does_not_need():
    text = "MARK\n" + "\n".join(f"s{i} = {i}" for i in range(100)) + "\n"
    w = window(text, "MARK", 60)
    assert w.prefix == ""
    assert len(w.suffix.split()) > 50
