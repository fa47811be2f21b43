// The status bar item's text, from the server's state and the last `diffill/status`
// (model, device, busy). No `vscode` here: statusBar.ts shows what this computes.

import type { StatusParams } from "./protocol";

export type ServerPhase = "starting" | "running" | "stopped" | "failed";

export interface StatusState {
  phase: ServerPhase;
  status?: StatusParams | undefined; // the last diffill/status (none until the server sends one)
  failure?: string | undefined; // why the server stopped or could not start
  requests: number; // this window's edit requests in flight
}

export interface StatusView {
  text: string; // with codicons, e.g. "$(sync~spin) diffill: small · cpu"
  tooltip: string;
  severity: "normal" | "warning" | "error";
  command: "diffill.cancel" | "diffill.showLog" | "diffill.restartServer";
}

const MAX_NAME = 24;

/** A model name short enough for the status bar: the last part of a path, cut with "…". */
export function shortName(name: string): string {
  const base = name.replace(/[\\/]+$/, "").split(/[\\/]/).pop() || name;
  return base.length > MAX_NAME ? `${base.slice(0, MAX_NAME - 1)}…` : base;
}

export function statusView(state: StatusState): StatusView {
  const { phase, status } = state;
  if (phase === "failed" || phase === "stopped") {
    const why = state.failure ? `: ${state.failure}` : "";
    return {
      text: phase === "failed" ? "$(error) diffill" : "$(circle-slash) diffill: stopped",
      tooltip: `The diffill server ${phase === "failed" ? "could not start" : "has stopped"}${why}. Click to restart it.`,
      severity: phase === "failed" ? "error" : "warning",
      command: "diffill.restartServer",
    };
  }
  if (phase === "starting" || status === undefined) {
    return {
      text: "$(loading~spin) diffill",
      tooltip: "diffill: starting the server",
      severity: "normal",
      command: "diffill.showLog",
    };
  }
  if (status.error) {
    return {
      text: "$(error) diffill",
      tooltip: `diffill: ${status.error}`,
      severity: "error",
      command: "diffill.showLog",
    };
  }
  if (status.model === null) {
    const loading = status.loading;
    const what = loading
      ? `${loading.model} (device ${loading.device})`
      : status.device
        ? `the model on ${status.device}`
        : "the model";
    return {
      text: "$(loading~spin) diffill: loading",
      tooltip: `diffill: loading ${what}`,
      severity: "normal",
      command: "diffill.showLog",
    };
  }
  const device = status.device ?? "its device";
  const where = status.device ? `${shortName(status.model)} · ${status.device}` : shortName(status.model);
  if (state.requests > 0) {
    // The request's own notification shows its progress: the status bar does not spin too.
    return {
      text: `$(sparkle) diffill: ${where}`,
      tooltip: `diffill: ${status.model} on ${device} is working (its progress is in the notification). Click to cancel.`,
      severity: "normal",
      command: "diffill.cancel",
    };
  }
  if (status.busy) {
    return {
      text: `$(sync~spin) diffill: ${where}`,
      tooltip: `diffill: ${status.model} on ${device} is working (a completion or another request)`,
      severity: "normal",
      command: "diffill.showLog",
    };
  }
  return {
    text: `$(sparkle) diffill: ${where}`,
    tooltip: `diffill: ${status.model} on ${device}, ready`,
    severity: "normal",
    command: "diffill.showLog",
  };
}
