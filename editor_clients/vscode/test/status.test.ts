import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { shortName, statusView } from "../src/status";

const loaded = { model: "small", device: "cpu", busy: false };

describe("statusView", () => {
  test("starting, then loading the model", () => {
    assert.equal(statusView({ phase: "starting", requests: 0 }).text, "$(loading~spin) diffill");
    const loading = statusView({
      phase: "running",
      status: { model: null, device: "cpu", busy: true },
      requests: 0,
    });
    assert.equal(loading.text, "$(loading~spin) diffill: loading");
  });

  test("ready: the model and the device", () => {
    const view = statusView({ phase: "running", status: loaded, requests: 0 });
    assert.equal(view.text, "$(sparkle) diffill: small · cpu");
    assert.equal(view.severity, "normal");
    assert.equal(view.command, "diffill.showLog");
  });

  test("busy: spinning; clicking cancels this window's request", () => {
    const busy = statusView({ phase: "running", status: { ...loaded, busy: true }, requests: 0 });
    assert.equal(busy.text, "$(sync~spin) diffill: small · cpu");
    const mine = statusView({ phase: "running", status: { ...loaded, busy: true }, requests: 1 });
    assert.equal(mine.command, "diffill.cancel");
  });

  test("this window's request: progress shows once, in its notification, not here", () => {
    const mine = statusView({ phase: "running", status: { ...loaded, busy: true }, requests: 1 });
    assert.ok(!mine.text.includes("~spin"), mine.text);
  });

  test("loading: the tooltip names the model and the device asked for, never '?'", () => {
    const view = statusView({
      phase: "running",
      status: {
        model: null,
        device: null,
        busy: true,
        loading: { model: "the shipped model", device: "auto" },
      },
      requests: 0,
    });
    assert.equal(view.tooltip, "diffill: loading the shipped model (device auto)");
    const bare = statusView({
      phase: "running",
      status: { model: null, device: null, busy: true },
      requests: 0,
    });
    assert.equal(bare.tooltip, "diffill: loading the model");
  });

  test("a model that did not load is an error, with the server's reason", () => {
    const view = statusView({
      phase: "running",
      status: { model: null, device: null, busy: false, error: "cannot load the model (x)" },
      requests: 0,
    });
    assert.equal(view.severity, "error");
    assert.ok(view.tooltip.includes("cannot load the model (x)"));
  });

  test("a server that failed or stopped: clicking restarts it", () => {
    const failed = statusView({ phase: "failed", failure: "spawn diffill ENOENT", requests: 0 });
    assert.equal(failed.severity, "error");
    assert.equal(failed.command, "diffill.restartServer");
    assert.ok(failed.tooltip.includes("ENOENT"));
    const stopped = statusView({ phase: "stopped", status: loaded, requests: 0 });
    assert.equal(stopped.text, "$(circle-slash) diffill: stopped");
  });
});

test("shortName keeps the folder name of a model path, cut to fit", () => {
  assert.equal(shortName("/models/diffill-small/"), "diffill-small");
  assert.equal(shortName("C:\\models\\tiny"), "tiny");
  assert.equal(shortName("x".repeat(40)).length, 24);
});
