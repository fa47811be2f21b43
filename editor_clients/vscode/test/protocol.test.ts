import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ACTION_KINDS,
  actionData,
  editsFor,
  isPreviewParams,
  isStatusParams,
  progressMessage,
  rejectedProposal,
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

describe("what the server says while it works", () => {
  test("every phase has its message: steps while denoising or repairing", () => {
    assert.equal(progressMessage({ step: 3, steps: 32, phase: "denoising" }), "denoising: step 3 of at most 32");
    assert.equal(progressMessage({ step: 3, steps: null }), "denoising: step 3");
    assert.equal(progressMessage({ step: 32, steps: 32, phase: "checking the result" }), "checking the result");
    assert.equal(
      progressMessage({ step: 2, steps: 32, phase: "repairing a syntax error (attempt 1 of 2)" }),
      "repairing a syntax error (attempt 1 of 2): step 2 of at most 32",
    );
  });

  test("a preview with a phase is accepted; a status while loading too", () => {
    const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
    assert.ok(isPreviewParams({ uri: "u", range, text: "", step: 1, steps: 2, done: false, phase: "denoising" }));
    assert.ok(!isPreviewParams({ uri: "u", range, text: "", step: 1, steps: 2, done: false, phase: 3 }));
    const loading = { model: null, device: null, busy: true, loading: { model: "m", device: "auto" } };
    assert.ok(isStatusParams(loading));
    assert.ok(!isStatusParams({ ...loading, loading: "m" }));
  });

  test("a rejected proposal kept in the action's data", () => {
    const edit = { range: { start: { line: 1, character: 4 }, end: { line: 1, character: 8 } }, newText: "x" };
    const data = { uri: "u", intent: "fill", version: 3, rejected: { reason: "why", version: 3, edits: [edit] } };
    assert.deepEqual(rejectedProposal(data), { reason: "why", version: 3, edits: [edit] });
    assert.equal(rejectedProposal({ uri: "u" }), null);
    assert.equal(rejectedProposal({ rejected: { reason: "why", version: 3, edits: [{}] } }), null);
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
