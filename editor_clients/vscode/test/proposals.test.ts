import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TextEdit } from "../src/protocol";
import {
  ALREADY_RUNNING,
  CHANGED_SINCE_PROPOSED,
  CHANGED_WHILE_RUNNING,
  EditStates,
  NOTHING_HERE,
  NO_PROPOSAL,
  type Running,
  rewriteStrength,
} from "../src/proposals";

const uri = "file:///w/add.py";
const edits: TextEdit[] = [
  {
    range: { start: { line: 5, character: 4 }, end: { line: 5, character: 8 } },
    newText: "return a + b",
  },
];
const answer = { kind: "edit" as const, title: "Fill placeholder", edits, versions: [3] };

function started(states: EditStates, version = 3): Running {
  const result = states.start(uri, "fill", version);
  assert.ok("running" in result, "the request starts");
  return result.running;
}

describe("a request", () => {
  test("in confirm mode becomes a proposal, accepted on the same version", () => {
    const states = new EditStates();
    const running = started(states);
    const settled = states.settle(uri, running, answer, 3, true);
    assert.equal(settled?.outcome, "proposed");
    assert.deepEqual(settled?.proposal?.edits, edits);
    assert.equal(states.runningIn(uri), undefined);
    const accepted = states.accept(uri, 3);
    assert.ok("edits" in accepted);
    assert.deepEqual(accepted.edits, edits);
    assert.equal(states.proposalIn(uri), undefined, "accepting ends the proposal");
  });

  test("without confirm is applied at once", () => {
    const states = new EditStates();
    const settled = states.settle(uri, started(states), answer, 3, false);
    assert.deepEqual(settled, { outcome: "applied", apply: edits });
    assert.equal(states.proposalIn(uri), undefined);
  });

  test("whose document changed while the model ran is stale, never applied", () => {
    const states = new EditStates();
    const settled = states.settle(uri, started(states), answer, 4, false);
    assert.deepEqual(settled, { outcome: "stale", reason: CHANGED_WHILE_RUNNING });
  });

  test("answered with edits for another version is stale", () => {
    const states = new EditStates();
    const settled = states.settle(uri, started(states), { ...answer, versions: [2] }, 3, true);
    assert.equal(settled?.outcome, "stale");
    assert.equal(states.proposalIn(uri), undefined);
  });

  test("is one at a time per document", () => {
    const states = new EditStates();
    started(states);
    assert.deepEqual(states.start(uri, "fix", 3), { refused: ALREADY_RUNNING });
    assert.ok("running" in states.start("file:///w/other.py", "fix", 1), "another document may run");
  });

  test("cancelled: its late answer is dropped", () => {
    const states = new EditStates();
    const running = started(states);
    assert.equal(states.cancel(uri), running);
    assert.equal(states.settle(uri, running, answer, 3, true), null);
    assert.equal(states.proposalIn(uri), undefined);
    assert.equal(states.cancel(uri), undefined, "nothing left to cancel");
  });

  test("superseded by a newer one after a cancel: the old answer does not touch the new", () => {
    const states = new EditStates();
    const old = started(states);
    states.cancel(uri);
    const fresh = started(states);
    assert.equal(states.settle(uri, old, answer, 3, true), null);
    assert.equal(states.runningIn(uri), fresh);
  });

  test("a new request replaces an unanswered proposal", () => {
    const states = new EditStates();
    states.settle(uri, started(states), answer, 3, true);
    const next = states.start(uri, "fix", 3);
    assert.ok("running" in next && next.dropped?.title === "Fill placeholder");
    assert.equal(states.proposalIn(uri), undefined);
  });

  test("with nothing to act on says what it looked for", () => {
    for (const intent of ["fill", "rewrite", "fix"] as const) {
      const states = new EditStates();
      const result = states.start(uri, intent, 1);
      assert.ok("running" in result);
      const settled = states.settle(uri, result.running, { kind: "none" }, 1, true);
      assert.deepEqual(settled, { outcome: "none", reason: NOTHING_HERE[intent] });
    }
  });

  test("the server's other answers", () => {
    const cases = [
      [{ kind: "unchanged" }, { outcome: "unchanged" }],
      [{ kind: "cancelled" }, { outcome: "cancelled" }],
      [{ kind: "stale" }, { outcome: "stale", reason: CHANGED_WHILE_RUNNING }],
      [{ kind: "error", message: "boom" }, { outcome: "error", reason: "boom" }],
      [{ ...answer, edits: [] }, { outcome: "unchanged" }],
    ] as const;
    for (const [given, expected] of cases) {
      const states = new EditStates();
      assert.deepEqual(states.settle(uri, started(states), given, 3, true), expected);
    }
  });
});

describe("a proposal", () => {
  function proposed(): EditStates {
    const states = new EditStates();
    states.settle(uri, started(states), answer, 3, true);
    return states;
  }

  test("is discarded when the document changes", () => {
    const states = proposed();
    assert.equal(states.changed(uri, 3), undefined, "same version: kept");
    assert.equal(states.changed(uri, 4)?.title, "Fill placeholder");
    assert.equal(states.proposalIn(uri), undefined);
  });

  test("cannot be accepted on a newer version", () => {
    const states = proposed();
    assert.deepEqual(states.accept(uri, 5), { refused: CHANGED_SINCE_PROPOSED });
    assert.deepEqual(states.accept(uri, 3), { refused: NO_PROPOSAL }, "and it is gone");
  });

  test("rejected leaves nothing to accept", () => {
    const states = proposed();
    assert.ok(states.reject(uri));
    assert.equal(states.reject(uri), undefined);
    assert.deepEqual(states.accept(uri, 3), { refused: NO_PROPOSAL });
  });

  test("goes with its document", () => {
    const states = proposed();
    states.forget(uri);
    assert.deepEqual(states.documents(), []);
  });
});

describe("rewriteStrength", () => {
  test("defaults to 1 (regenerate)", () => {
    assert.equal(rewriteStrength(undefined), 1);
    assert.equal(rewriteStrength({}), 1);
    assert.equal(rewriteStrength({ scheme: "file", path: "/w/a.py" }), 1, "a menu passes a Uri");
  });

  test("takes a number, a numeric string or {strength}", () => {
    assert.equal(rewriteStrength(0.3), 0.3);
    assert.equal(rewriteStrength("0.5"), 0.5);
    assert.equal(rewriteStrength({ strength: 1 }), 1);
  });

  test("refuses anything outside (0, 1]", () => {
    for (const bad of [0, -1, 1.5, "x", Number.NaN, { strength: "lots" }, true]) {
      const result = rewriteStrength(bad);
      assert.ok(typeof result === "object" && result.error.includes("(0, 1]"), String(bad));
    }
  });
});

describe("a proposal the server did not apply", () => {
  test("is shown even when results are applied at once, with the server's reason", () => {
    const states = new EditStates();
    const started = states.start("u", "fill", 4);
    assert.ok("running" in started);
    const edits = [{ range: { start: { line: 1, character: 4 }, end: { line: 1, character: 8 } }, newText: "x(" }];
    const settled = states.settle(
      "u",
      started.running,
      { kind: "rejected", title: "Fill placeholder", edits, version: 4, reason: "adds a syntax error" },
      4,
      false,
    );
    assert.equal(settled?.outcome, "proposed");
    assert.equal(settled?.proposal?.warning, "adds a syntax error");
    assert.deepEqual(states.accept("u", 4), { edits, proposal: settled?.proposal });
  });

  test("for another version it is dropped like any result", () => {
    const states = new EditStates();
    const started = states.start("u", "fill", 4);
    assert.ok("running" in started);
    const settled = states.settle(
      "u",
      started.running,
      { kind: "rejected", title: "t", edits: [], version: 3, reason: "r" },
      4,
      true,
    );
    assert.equal(settled?.outcome, "stale");
  });
});
