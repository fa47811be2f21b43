import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ACTION_KINDS,
  actionData,
  editsFor,
  isPreviewParams,
  isStatusParams,
} from "../src/protocol";

const range = { start: { line: 4, character: 4 }, end: { line: 5, character: 8 } };
const uri = "file:///w/add.py";

describe("notifications", () => {
  test("a diffill/preview as the server sends it is accepted", () => {
    // server/protocol.py preview_params
    assert.ok(isPreviewParams({ uri, range, text: "return", step: 2, steps: 8, done: false }));
    assert.ok(isPreviewParams({ uri, range, text: "", step: 1, steps: null, done: false }));
  });

  test("a malformed diffill/preview is refused", () => {
    assert.ok(!isPreviewParams({ uri, range, text: "x", step: -1, steps: 8, done: false }));
    assert.ok(!isPreviewParams({ uri, range: { start: {} }, text: "x", step: 1, done: false }));
    assert.ok(!isPreviewParams({ uri, range, text: 3, step: 1, steps: 1, done: false }));
    assert.ok(!isPreviewParams(null));
  });

  test("diffill/status: loading, loaded, failed", () => {
    assert.ok(isStatusParams({ model: null, device: null, busy: false }));
    assert.ok(isStatusParams({ model: "small", device: "cpu", busy: true }));
    assert.ok(isStatusParams({ model: null, device: null, busy: false, error: "cannot load" }));
    assert.ok(!isStatusParams({ model: "small", device: "cpu" }));
    assert.ok(!isStatusParams({ model: 1, device: "cpu", busy: false }));
  });
});

describe("code actions", () => {
  test("the server's data names the intent, range and version", () => {
    const data = { uri, range, intent: "fill", version: 3 };
    assert.deepEqual(actionData(data, "fill"), data);
    assert.equal(actionData(data, "fix"), null);
    assert.equal(actionData({ ...data, version: "3" }, "fill"), null);
    assert.equal(actionData(undefined, "fill"), null);
  });

  test("fill and rewrite are refactor.rewrite actions, fix a quickfix", () => {
    assert.deepEqual(ACTION_KINDS, {
      fill: "refactor.rewrite",
      rewrite: "refactor.rewrite",
      fix: "quickfix",
    });
  });
});

describe("editsFor", () => {
  const e1 = { range, newText: "return a + b" };
  const e2 = { range: { start: range.start, end: range.start }, newText: "# x\n" };

  test("takes a versioned TextDocumentEdit's edits and records its version", () => {
    const versions: number[] = [];
    const edits = editsFor(
      {
        documentChanges: [
          { textDocument: { uri, version: 7 }, edits: [e1] },
          { textDocument: { uri: "file:///other.py", version: 1 }, edits: [e2] },
          { kind: "create", uri: "file:///new.py" },
        ],
      },
      uri,
      versions,
    );
    assert.deepEqual(edits, [e1]);
    assert.deepEqual(versions, [7]);
  });

  test("takes plain `changes` too", () => {
    assert.deepEqual(editsFor({ changes: { [uri]: [e1, e2], "file:///o.py": [e1] } }, uri), [e1, e2]);
  });

  test("drops malformed edits", () => {
    assert.deepEqual(editsFor({ changes: { [uri]: [{ range }, e1] as never } }, uri), [e1]);
  });
});
