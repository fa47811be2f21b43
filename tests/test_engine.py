"""Golden tests of the engine: each folder in tests/golden holds an input file, the
request and scripted model outputs (case.json), and the expected file, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffill.server.document import Document, Encoding, Position
from diffill.server.editing import engine
from diffill.server.editing.parsed import ParsedDocument
from diffill.server.editing.request import (
    DEFAULT_OPTIONS,
    EditOptions,
    EditRequest,
    Intent,
    Status,
)

from .scripted_model import ScriptedInfiller

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def edit(doc, lang, request, model, options=DEFAULT_OPTIONS):
    """The engine on a document parsed here, as its callers parse it."""
    return engine.edit(ParsedDocument.parse(doc, lang), request, model, options)


def selection(doc: Document, options: dict) -> tuple[int, int]:
    def offset(spec: str) -> int:
        line, col = (int(x) for x in spec.split(":"))
        return doc.offset_at(Position(line - 1, col - 1), Encoding.UTF32)

    if "at" in options:
        at = offset(options["at"])
        return at, at
    if "line" in options:
        n = int(options["line"])
        start = offset(f"{n}:1")
        return start, start + len(doc.line_text(n - 1))
    a, b = options["range"].split("-")
    return offset(a), offset(b)


@pytest.mark.parametrize("name", CASES)
def test_golden(name, tokenizer):
    folder = GOLDEN / name
    case = json.loads((folder / "case.json").read_text())
    opts = case["options"]
    source = next(folder.glob("input.*"))
    expected = next(folder.glob("expected.*")).read_bytes()
    doc = Document.from_bytes(source.read_bytes())
    lang = engine.language_of(str(source), None)
    start, end = selection(doc, opts)
    model = ScriptedInfiller(tokenizer, case["model"])
    request = EditRequest(Intent(opts["intent"]), start, end, opts.get("strength", 1.0))
    result = edit(doc, lang, request, model, EditOptions(snap=opts.get("snap", True)))
    after = doc.apply(result.edits).to_bytes() if result.changed else doc.to_bytes()
    assert after.decode("utf-8") == expected.decode("utf-8")
    assert after == expected
    assert result.status.value == opts.get("expect_status", "changed"), result.reason


def test_todo_comment_is_shown_to_the_model(tokenizer):
    doc = Document.from_text("def f(r):\n    # TODO: area of a circle\n    pass\n")
    model = ScriptedInfiller(tokenizer, ["return 3.14 * r * r"])
    at = doc.text.index("TODO")
    edit(doc, engine.language_of("a.py", None), EditRequest(Intent.FILL, at, at), model)
    assert model.requests[0]["prefix"].endswith("    # TODO: area of a circle\n    ")


def test_fill_without_placeholder_inserts_at_cursor(tokenizer):
    doc = Document.from_text("x = 1\n\ny = 2\n")
    model = ScriptedInfiller(tokenizer, ["z = 3"])
    r = edit(doc, engine.language_of("a.py", None), EditRequest(Intent.FILL, 6, 6), model)
    assert r.changed and doc.apply(r.edits).text == "x = 1\nz = 3\ny = 2\n"


def test_fix_with_no_error_is_unchanged(tokenizer):
    doc = Document.from_text("x = 1\n")
    model = ScriptedInfiller(tokenizer, ["never asked"])
    r = edit(doc, engine.language_of("a.py", None), EditRequest(Intent.FIX, 0, 0), model)
    assert r.status is Status.UNCHANGED and "no syntax error" in r.reason
    assert model.requests == []


def test_an_edit_never_leaves_more_syntax_errors(tokenizer):
    broken_outputs = ["def (", "return )", "x = [", "if x", "pass pass"]
    doc = Document.from_text("def f(x):\n    pass\n\n\ndef g(y):\n    return y\n")
    lang = engine.language_of("a.py", None)
    at = doc.text.index("pass")
    for out in broken_outputs:
        model = ScriptedInfiller(tokenizer, [out])
        r = edit(doc, lang, EditRequest(Intent.FILL, at, at), model)
        assert r.status is Status.REJECTED, out
        assert not r.changed  # never applied; its edits are kept only for a client to show
        assert "syntax error" in r.reason


def test_unsupported_language_is_reported():
    with pytest.raises(engine.EditFailure) as failed:
        engine.language_of("notes.txt", None)
    r = failed.value.result
    assert r.status is Status.UNSUPPORTED and "unsupported language" in r.reason


def test_span_too_long_for_the_model_is_an_error(tokenizer):
    body = "\n".join(f"    v{i} = {i}" for i in range(200))
    doc = Document.from_text(f"def f():\n{body}\n")
    model = ScriptedInfiller(tokenizer, ["x"])
    r = edit(
        doc,
        engine.language_of("a.py", None),
        EditRequest(Intent.REWRITE, 9, len(doc.text) - 1),
        model,
    )
    assert r.status is Status.ERROR and "at most" in r.reason


def test_rewrite_strength_passes_the_original(tokenizer):
    doc = Document.from_text("total = price * count\n")
    model = ScriptedInfiller(tokenizer, ["total = price * quantity"])
    r = edit(
        doc,
        engine.language_of("a.py", None),
        EditRequest(Intent.REWRITE, 0, 5, strength=0.3),
        model,
    )
    assert model.requests[0]["middle"] == "total = price * count"
    assert model.requests[0]["strength"] == 0.3
    assert r.changed and [e.new_text for e in r.edits] == ["quantity"]


def test_out_of_range_request(tokenizer):
    doc = Document.from_text("x = 1\n")
    r = edit(
        doc,
        engine.language_of("a.py", None),
        EditRequest(Intent.FILL, 3, 99),
        ScriptedInfiller(tokenizer, ["y"]),
    )
    assert r.status is Status.ERROR and "outside the document" in r.reason


def test_invalid_utf8_from_the_model_never_reaches_the_file(tokenizer):
    doc = Document.from_text("def f():\n    pass\n")
    model = ScriptedInfiller(tokenizer, ["return '\ufffd'"])
    at = doc.text.index("pass")
    r = edit(doc, engine.language_of("a.py", None), EditRequest(Intent.FILL, at, at), model)
    assert r.status is Status.REJECTED and "UTF-8" in r.reason and not r.edits


def test_fix_with_the_cursor_elsewhere_on_the_line(tokenizer):
    doc = Document.from_text("function f(x) {\n  return x +;\n}\n")
    model = ScriptedInfiller(tokenizer, ["return x + 1;"])
    at = doc.text.index("return")
    r = edit(doc, engine.language_of("a.js", None), EditRequest(Intent.FIX, at, at), model)
    assert r.changed, r.reason
    assert doc.apply(r.edits).text == "function f(x) {\n  return x + 1;\n}\n"


def test_the_document_is_not_parsed_again_and_each_candidate_once(tokenizer, monkeypatch):
    from diffill.server.editing import parsed as parsed_module

    doc = Document.from_text("def f(x):\n    pass\n\n\ndef g():\n    return )\n")
    lang = engine.language_of("a.py", None)
    parsed = ParsedDocument.parse(doc, lang)
    sources: list[bytes] = []
    real = parsed_module.parse

    def counting(source, lang, old_tree=None, timeout_s=None):
        sources.append(source)
        return real(source, lang, old_tree, timeout_s)

    monkeypatch.setattr(parsed_module, "parse", counting)
    at = doc.text.index("pass")
    model = ScriptedInfiller(tokenizer, ["return x"])
    prepared = engine.prepare(parsed, EditRequest(Intent.FILL, at, at), model)
    assert prepared.errors_before == len(parsed.issues) >= 1 and sources == []
    assert prepared.infill.accept is not None and prepared.infill.accept("return x")
    r = engine.edit_prepared(prepared, model, DEFAULT_OPTIONS, None, None)
    assert r.changed and r.errors_after == prepared.errors_before
    assert sources == [doc.text.replace("pass", "return x").encode()]  # parsed once
