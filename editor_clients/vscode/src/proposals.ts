// The life of one diffill edit per document, as a state machine with no editor in it:
// idle -> running (the server lists the action, then resolves it with the model)
//      -> proposed (confirm mode: shown until accepted or rejected) or applied at once -> idle.
// A result computed for another version of the document than the current one is never
// applied; the document changing under a proposal discards it.

import type { Intent, TextEdit } from "./protocol";

export type Outcome =
  | "applied" // the edits go into the document now
  | "proposed" // shown; waits for accept or reject
  | "unchanged" // the server had nothing to change (it says why itself)
  | "none" // nothing to act on at this place
  | "stale" // the document changed while the model ran; the result was dropped
  | "cancelled"
  | "error";

/** What the server answered, as the extension saw it. */
export type Answer =
  | { kind: "none" } // no diffill action listed for the range
  | { kind: "edit"; title: string; edits: readonly TextEdit[]; versions: readonly number[] }
  // The server's best proposal, not applied because it adds a syntax error: always shown
  // as a proposal (even when results are applied at once), for the user to judge.
  | { kind: "rejected"; title: string; edits: readonly TextEdit[]; version: number; reason: string }
  | { kind: "unchanged" }
  | { kind: "cancelled" }
  | { kind: "stale" } // the server answered ContentModified
  | { kind: "error"; message: string };

export interface Running {
  readonly ticket: number;
  readonly intent: Intent;
  readonly version: number; // the document version the request was made on
}

export interface Proposal {
  readonly intent: Intent;
  readonly title: string;
  readonly version: number; // the version the edits apply to
  readonly edits: readonly TextEdit[];
  readonly warning?: string; // why the server did not apply it (a rejected proposal)
}

export interface Settled {
  outcome: Outcome;
  reason?: string; // for the user; none when the server already told them
  apply?: readonly TextEdit[]; // outcome "applied": the edits to make now
  proposal?: Proposal; // outcome "proposed"
}

export const NOTHING_HERE: Record<Intent, string> = {
  fill: "no placeholder here (pass, ..., # TODO, raise NotImplementedError, an empty body)",
  rewrite: "nothing to rewrite here: select some code",
  fix: "no syntax error here",
};
export const ALREADY_RUNNING =
  "a diffill request is already running in this document (diffill: Cancel stops it)";
export const CHANGED_WHILE_RUNNING =
  "the document changed while the model ran; the result was discarded";
export const CHANGED_SINCE_PROPOSED =
  "the document changed since the proposal was made; it was discarded";
export const NO_PROPOSAL = "no diffill proposal in this document";

export class EditStates {
  private readonly running = new Map<string, Running>();
  private readonly proposals = new Map<string, Proposal>();
  private tickets = 0;

  runningIn(uri: string): Running | undefined {
    return this.running.get(uri);
  }

  proposalIn(uri: string): Proposal | undefined {
    return this.proposals.get(uri);
  }

  /** Begin a request; refused while another runs in the same document. A new request
   * supersedes the document's unanswered proposal (returned as `dropped`). */
  start(
    uri: string,
    intent: Intent,
    version: number,
  ): { running: Running; dropped?: Proposal } | { refused: string } {
    if (this.running.has(uri)) {
      return { refused: ALREADY_RUNNING };
    }
    const dropped = this.proposals.get(uri);
    this.proposals.delete(uri);
    const running: Running = { ticket: ++this.tickets, intent, version };
    this.running.set(uri, running);
    return dropped ? { running, dropped } : { running };
  }

  /** Whether `running` is still the document's request (not cancelled or superseded). */
  isCurrent(uri: string, running: Running): boolean {
    return this.running.get(uri) === running;
  }

  /**
   * The request `running` got `answer` while the document is at `version`. Returns null
   * when the request is no longer current (it was cancelled: its answer is dropped).
   */
  settle(
    uri: string,
    running: Running,
    answer: Answer,
    version: number,
    confirm: boolean,
  ): Settled | null {
    if (!this.isCurrent(uri, running)) {
      return null;
    }
    this.running.delete(uri);
    switch (answer.kind) {
      case "none":
        return { outcome: "none", reason: NOTHING_HERE[running.intent] };
      case "unchanged":
        return { outcome: "unchanged" };
      case "cancelled":
        return { outcome: "cancelled" };
      case "stale":
        return { outcome: "stale", reason: CHANGED_WHILE_RUNNING };
      case "error":
        return { outcome: "error", reason: answer.message };
      case "rejected": {
        if (version !== running.version || answer.version !== running.version) {
          return { outcome: "stale", reason: CHANGED_WHILE_RUNNING };
        }
        if (answer.edits.length === 0) {
          return { outcome: "unchanged" };
        }
        const rejected: Proposal = {
          intent: running.intent,
          title: answer.title,
          version: running.version,
          edits: answer.edits,
          warning: answer.reason,
        };
        this.proposals.set(uri, rejected);
        return { outcome: "proposed", proposal: rejected }; // the server said why
      }
      case "edit":
        break;
    }
    const otherVersion = answer.versions.some((v) => v !== running.version);
    if (version !== running.version || otherVersion) {
      return { outcome: "stale", reason: CHANGED_WHILE_RUNNING };
    }
    if (answer.edits.length === 0) {
      return { outcome: "unchanged" };
    }
    if (!confirm) {
      return { outcome: "applied", apply: answer.edits };
    }
    const proposal: Proposal = {
      intent: running.intent,
      title: answer.title,
      version: running.version,
      edits: answer.edits,
    };
    this.proposals.set(uri, proposal);
    return { outcome: "proposed", proposal };
  }

  /** Stop the document's request: its answer, should it still come, is dropped. */
  cancel(uri: string): Running | undefined {
    const running = this.running.get(uri);
    this.running.delete(uri);
    return running;
  }

  /** The document is now at `version`: a proposal made for another version is dropped. */
  changed(uri: string, version: number): Proposal | undefined {
    const proposal = this.proposals.get(uri);
    if (proposal && proposal.version !== version) {
      this.proposals.delete(uri);
      return proposal;
    }
    return undefined;
  }

  /** The edits to apply, unless there is no proposal or the document moved on. */
  accept(
    uri: string,
    version: number,
  ): { edits: readonly TextEdit[]; proposal: Proposal } | { refused: string } {
    const proposal = this.proposals.get(uri);
    if (!proposal) {
      return { refused: NO_PROPOSAL };
    }
    this.proposals.delete(uri);
    if (proposal.version !== version) {
      return { refused: CHANGED_SINCE_PROPOSED };
    }
    return { edits: proposal.edits, proposal };
  }

  reject(uri: string): Proposal | undefined {
    const proposal = this.proposals.get(uri);
    this.proposals.delete(uri);
    return proposal;
  }

  /** The document was closed, or the server went away: forget everything about it. */
  forget(uri: string): void {
    this.running.delete(uri);
    this.proposals.delete(uri);
  }

  /** Every document with a request running or a proposal shown. */
  documents(): string[] {
    return [...new Set([...this.running.keys(), ...this.proposals.keys()])];
  }
}

/** The strength of a rewrite from a command argument: a number in (0, 1], or 1 when none is
 * given; an error message otherwise. */
export function rewriteStrength(arg: unknown): number | { error: string } {
  let value: unknown = arg;
  if (typeof arg === "object" && arg !== null && "strength" in arg) {
    value = (arg as { strength: unknown }).strength;
  } else if (typeof arg === "object" && arg !== null) {
    value = undefined; // an argument object without a strength (e.g. from a menu)
  }
  if (value === undefined || value === null) {
    return 1;
  }
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0 || n > 1) {
    return { error: `the strength must be a number in (0, 1], not ${JSON.stringify(value)}` };
  }
  return n;
}
