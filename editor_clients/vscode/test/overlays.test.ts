import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { codeBlock, oneLine, previewOverlay, proposalOverlay } from "../src/overlays";

const at = (line: number, character: number) => ({ line, character });
const uri = "file:///w/add.py";

describe("oneLine", () => {
  test("shows line breaks as ⏎ and drops the indentation after them", () => {
    assert.equal(oneLine("x = 1\n    return x\n"), "x = 1 ⏎ return x");
    assert.equal(oneLine("a\r\n\tb"), "a ⏎ b");
  });

  test("cuts long text with an ellipsis, never inside a surrogate pair", () => {
    assert.equal(oneLine("abcdefgh", 5), "abcd…");
    const cut = oneLine("abc😀def", 5);
    assert.ok(!/[\ud800-\udbff]…$/.test(cut), cut);
  });
});

test("codeBlock fences text that holds backticks", () => {
  assert.equal(codeBlock("x = 1\n", "python"), "```python\nx = 1\n```");
  assert.equal(codeBlock("s = '```'"), "````\ns = '```'\n````");
});

describe("previewOverlay", () => {
  const range = { start: at(5, 4), end: at(5, 8) };

  test("labels the step and draws the text at the span's end", () => {
    const o = previewOverlay({ uri, range, text: "return a\n", step: 2, steps: 8, done: false }, "python");
    assert.ok(o);
    assert.equal(o.label, "diffill 2/8");
    assert.equal(o.text, "return a");
    assert.deepEqual(o.span, range);
    assert.deepEqual(o.at, range.end);
    assert.ok(o.hover.includes("```python\nreturn a\n```"));
  });

  test("an unknown step count (confidence threshold) shows the step alone", () => {
    const o = previewOverlay({ uri, range, text: "", step: 1, steps: null, done: false });
    assert.equal(o?.label, "diffill 1");
    assert.equal(o?.text, "…", "nothing committed yet");
  });

  test("the last notification clears the preview", () => {
    assert.equal(previewOverlay({ uri, range, text: "x", step: 3, steps: 3, done: true }), null);
  });
});

describe("proposalOverlay", () => {
  const text = '# out: "return a + b"\n\n\ndef add(a, b):\n    # TODO: add them\n    pass\n';

  test("a fill: the placeholder struck through, its replacement after it", () => {
    const edits = [{ range: { start: at(4, 4), end: at(5, 8) }, newText: "return a + b" }];
    const o = proposalOverlay(text, edits, "Fill placeholder", "", "python");
    assert.deepEqual(o.removed, [edits[0]?.range]);
    assert.deepEqual(o.inserted, [{ at: at(5, 8), text: "return a + b" }]);
    assert.equal(o.firstLine, 4);
    assert.equal(o.lastLine, 5);
    assert.ok(o.hover.startsWith("**Fill placeholder**"));
    assert.ok(o.hover.includes("```python\n    return a + b\n```"), o.hover);
  });

  test("a pure insertion removes nothing; a pure deletion inserts nothing", () => {
    const insert = proposalOverlay("a\nb\n", [{ range: { start: at(1, 0), end: at(1, 0) }, newText: "x\ny\n" }], "t");
    assert.deepEqual(insert.removed, []);
    assert.equal(insert.inserted[0]?.text, "x ⏎ y");
    assert.ok(insert.hover.includes("```\nx\ny\nb\n```"), insert.hover);
    const remove = proposalOverlay("a\nb\n", [{ range: { start: at(0, 0), end: at(1, 0) }, newText: "" }], "t");
    assert.deepEqual(remove.inserted, []);
    assert.equal(remove.removed.length, 1);
  });
});
