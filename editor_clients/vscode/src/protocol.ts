// The shapes of what crosses the wire, as plain JSON (no `vscode` import, so the unit tests
// run in node): the LSP types the extension reads itself, and diffill's own messages.
// server/protocol.py is the other side of every type here.

export interface Position {
  line: number;
  character: number; // UTF-16 code units: the encoding VS Code negotiates
}

export interface Range {
  start: Position;
  end: Position;
}

export interface TextEdit {
  range: Range;
  newText: string;
}

export interface TextDocumentEdit {
  textDocument: { uri: string; version: number | null };
  edits: TextEdit[];
}

export interface WorkspaceEdit {
  changes?: Record<string, TextEdit[]>;
  documentChanges?: unknown[]; // TextDocumentEdit, or file operations we do not apply
}

export type Intent = "fill" | "rewrite" | "fix";

export const INTENTS: readonly Intent[] = ["fill", "rewrite", "fix"];

/** The code action kind the server lists each intent under. */
export const ACTION_KINDS: Record<Intent, string> = {
  fill: "refactor.rewrite",
  rewrite: "refactor.rewrite",
  fix: "quickfix",
};

/** A code action's `data`: what `codeAction/resolve` will compute (EditTarget). */
export interface ActionData {
  uri: string;
  range: Range;
  intent: Intent;
  version: number;
  strength?: number;
}

/** `diffill/preview`: the span's text after `step` of at most `steps` (null: not known),
 * and what the engine does now (`phase`: "denoising", "checking the result", "repairing a
 * syntax error (attempt 1 of 2)", "done"; older servers send none). */
export interface PreviewParams {
  uri: string;
  range: Range;
  text: string;
  step: number;
  steps: number | null;
  done: boolean;
  phase?: string;
}

/** `diffill/status`: the model (null while it loads), its device, whether it works now;
 * while a model loads, which one and on which device it was asked to load. */
export interface StatusParams {
  model: string | null;
  device: string | null;
  busy: boolean;
  error?: string;
  loading?: { model: string; device: string };
}

/** What the server kept in a resolved action's data when it did not apply its best
 * proposal (it adds a syntax error): shown for the user to judge, never applied unasked. */
export interface RejectedProposal {
  reason: string;
  version: number;
  edits: TextEdit[];
}

export const PREVIEW_NOTIFICATION = "diffill/preview";
export const STATUS_NOTIFICATION = "diffill/status";

// LSP error codes the server answers `codeAction/resolve` with.
export const REQUEST_CANCELLED = -32800;
export const CONTENT_MODIFIED = -32801;
export const REQUEST_FAILED = -32803;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

export function isPosition(value: unknown): value is Position {
  return isObject(value) && isCount(value["line"]) && isCount(value["character"]);
}

export function isRange(value: unknown): value is Range {
  return isObject(value) && isPosition(value["start"]) && isPosition(value["end"]);
}

export function isTextEdit(value: unknown): value is TextEdit {
  return isObject(value) && isRange(value["range"]) && typeof value["newText"] === "string";
}

export function isPreviewParams(value: unknown): value is PreviewParams {
  return (
    isObject(value) &&
    typeof value["uri"] === "string" &&
    isRange(value["range"]) &&
    typeof value["text"] === "string" &&
    isCount(value["step"]) &&
    (value["steps"] === null || value["steps"] === undefined || isCount(value["steps"])) &&
    typeof value["done"] === "boolean" &&
    (value["phase"] === undefined || typeof value["phase"] === "string")
  );
}

/** The progress message for a preview: the phase, with the step while denoising. */
export function progressMessage(params: Pick<PreviewParams, "step" | "steps" | "phase">): string {
  const phase = params.phase ?? "denoising";
  if (phase !== "denoising" && !phase.startsWith("repairing")) {
    return phase;
  }
  const of = params.steps ? ` of at most ${params.steps}` : "";
  return `${phase}: step ${params.step}${of}`;
}

/** The rejected proposal in a resolved action's data, if the server kept one. */
export function rejectedProposal(data: unknown): RejectedProposal | null {
  if (!isObject(data) || !isObject(data["rejected"])) {
    return null;
  }
  const rejected = data["rejected"];
  const edits = rejected["edits"];
  if (
    typeof rejected["reason"] !== "string" ||
    !isCount(rejected["version"]) ||
    !Array.isArray(edits) ||
    !edits.every(isTextEdit)
  ) {
    return null;
  }
  return { reason: rejected["reason"], version: rejected["version"], edits };
}

export function isStatusParams(value: unknown): value is StatusParams {
  const optionalString = (v: unknown) => v === null || v === undefined || typeof v === "string";
  return (
    isObject(value) &&
    optionalString(value["model"]) &&
    optionalString(value["device"]) &&
    typeof value["busy"] === "boolean" &&
    (value["error"] === undefined || typeof value["error"] === "string") &&
    (value["loading"] === undefined ||
      (isObject(value["loading"]) &&
        typeof value["loading"]["model"] === "string" &&
        typeof value["loading"]["device"] === "string"))
  );
}

/** The action data of a listed code action when it is diffill's for `intent`, else null. */
export function actionData(data: unknown, intent: Intent): ActionData | null {
  if (!isObject(data) || data["intent"] !== intent) {
    return null;
  }
  if (typeof data["uri"] !== "string" || !isRange(data["range"]) || !isCount(data["version"])) {
    return null;
  }
  return data as unknown as ActionData;
}

/**
 * The text edits a WorkspaceEdit makes to the document `uri`, in the order given. A
 * `TextDocumentEdit` names the version it was computed on; `versions` collects them so the
 * caller can refuse edits made for another version.
 */
export function editsFor(
  edit: WorkspaceEdit,
  uri: string,
  versions: number[] = [],
): TextEdit[] {
  const found: TextEdit[] = [];
  for (const change of edit.documentChanges ?? []) {
    if (!isObject(change) || !isObject(change["textDocument"])) {
      continue; // a create/rename/delete file operation: not ours to apply
    }
    const doc = change["textDocument"];
    if (doc["uri"] !== uri || !Array.isArray(change["edits"])) {
      continue;
    }
    if (typeof doc["version"] === "number") {
      versions.push(doc["version"]);
    }
    found.push(...change["edits"].filter(isTextEdit));
  }
  for (const [target, edits] of Object.entries(edit.changes ?? {})) {
    if (target === uri && Array.isArray(edits)) {
      found.push(...edits.filter(isTextEdit));
    }
  }
  return found;
}
