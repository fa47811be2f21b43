import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EditError, applyEdits, enclosing, lineStarts, offsetAt, positionAt } from "../src/edits";
import type { TextEdit } from "../src/protocol";

const at = (line: number, character: number) => ({ line, character });
const edit = (l1: number, c1: number, l2: number, c2: number, newText: string): TextEdit => ({
  range: { start: at(l1, c1), end: at(l2, c2) },
  newText,
});

describe("positions", () => {
  test("lines end at \\n, \\r\\n and \\r alike", () => {
    assert.deepEqual(lineStarts("a\nb\r\nc\rd"), [0, 2, 5, 7]);
    assert.deepEqual(lineStarts(""), [0]);
    assert.deepEqual(lineStarts("x\n"), [0, 2]);
  });

  test("a character past the line's end is the line's end, before its break", () => {
    const text = "ab\r\ncd";
    assert.equal(offsetAt(text, at(0, 99)), 2);
    assert.equal(offsetAt(text, at(1, 1)), 5);
  });

  test("a line past the last one is the end of the text", () => {
    assert.equal(offsetAt("ab\ncd", at(7, 0)), 5);
  });

  test("characters are UTF-16 code units, as VS Code counts them", () => {
    const text = "x = '😀' + y";
    // The emoji is two code units: `+` is at character 9.
    assert.equal(text[offsetAt(text, at(0, 9))], "+");
  });

  test("positionAt inverts offsetAt", () => {
    const text = "def f():\r\n    pass\n\nprint(1)";
    for (let offset = 0; offset <= text.length; offset++) {
      if (text[offset - 1] === "\r" && text[offset] === "\n") {
        continue; // between \r and \n is not a position
      }
      assert.equal(offsetAt(text, positionAt(text, offset)), offset, `offset ${offset}`);
    }
  });
});

describe("applyEdits", () => {
  test("applies edits given in any order against the original text", () => {
    const text = "def add(a, b):\n    pass\n";
    const edits = [edit(1, 4, 1, 8, "return a + b"), edit(0, 4, 0, 7, "plus")];
    assert.equal(applyEdits(text, edits), "def plus(a, b):\n    return a + b\n");
  });

  test("insertions at one position keep their order", () => {
    assert.equal(applyEdits("ab", [edit(0, 1, 0, 1, "1"), edit(0, 1, 0, 1, "2")]), "a12b");
  });

  test("refuses overlapping edits", () => {
    assert.throws(
      () => applyEdits("abcdef", [edit(0, 0, 0, 3, "x"), edit(0, 2, 0, 4, "y")]),
      EditError,
    );
  });

  test("keeps CRLF line breaks outside the edits", () => {
    assert.equal(applyEdits("a\r\nb\r\n", [edit(1, 0, 1, 1, "c")]), "a\r\nc\r\n");
  });
});

test("enclosing covers every range", () => {
  const r = enclosing([
    { start: at(3, 4), end: at(3, 8) },
    { start: at(1, 2), end: at(1, 2) },
    { start: at(2, 0), end: at(5, 1) },
  ]);
  assert.deepEqual(r, { start: at(1, 2), end: at(5, 1) });
});
