// What the extension draws over a document, as plain data: the live preview of a span the
// model is denoising (`diffill/preview`) and a proposal's removed and inserted text.
// decorations.ts paints these with VS Code decorations; VS Code cannot draw lines that are not
// in the document, so multi-line text is shown on one line (line breaks as ⏎) with the full
// text in the hover.

import { applyEdits, enclosing, lineStarts } from "./edits";
import type { Position, PreviewParams, Range, TextEdit } from "./protocol";

export const LINE_BREAK = " ⏎ ";
export const DEFAULT_MAX_CHARS = 120;

/** `text` on one line: line breaks shown as ⏎, the indentation after them dropped, cut
 * to `max` characters with an ellipsis. */
export function oneLine(text: string, max = DEFAULT_MAX_CHARS): string {
  const lines = text.replace(/\t/g, "    ").split(/\r\n|\r|\n/);
  while (lines.length > 1 && (lines[lines.length - 1] as string).trim() === "") {
    lines.pop();
  }
  const shown = lines.map((line, i) => (i === 0 ? line.trimEnd() : line.trim())).join(LINE_BREAK);
  if (shown.length <= max) {
    return shown;
  }
  // Do not cut a surrogate pair in half.
  let cut = max - 1;
  const code = shown.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) {
    cut--;
  }
  return shown.slice(0, cut) + "…";
}

/** A Markdown code block holding `text` whatever backticks it contains. */
export function codeBlock(text: string, language = ""): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${language}\n${text.replace(/\n$/, "")}\n${fence}`;
}

export interface PreviewOverlay {
  uri: string;
  span: Range; // the text being regenerated: drawn dimmed
  at: Position; // where the preview text is drawn: the span's end
  label: string; // "diffill 3/8", or "diffill 3" while the step count is unknown
  text: string; // the span's current text on one line
  hover: string; // Markdown: the label and the whole current text
}

/** The overlay of a `diffill/preview` notification; null for the last one (`done`), which
 * clears the preview. */
export function previewOverlay(
  params: PreviewParams,
  language = "",
  max = DEFAULT_MAX_CHARS,
): PreviewOverlay | null {
  if (params.done) {
    return null;
  }
  const label =
    typeof params.steps === "number" && params.steps > 0
      ? `diffill ${params.step}/${params.steps}`
      : `diffill ${params.step}`;
  const text = params.text.trim() === "" ? "…" : oneLine(params.text, max);
  return {
    uri: params.uri,
    span: params.range,
    at: params.range.end,
    label,
    text,
    hover: `**${label}** (denoising)\n\n${codeBlock(params.text, language)}`,
  };
}

export interface Insertion {
  at: Position; // the end of the replaced range: the new text is drawn right after it
  text: string; // on one line
}

export interface ProposalOverlay {
  removed: Range[]; // the non-empty ranges the edits replace
  inserted: Insertion[];
  firstLine: number; // the lines the proposal touches: the accept/reject lens goes above
  lastLine: number;
  hover: string; // Markdown: the touched lines as they would read after accepting
}

/** How a proposal of `edits` to `text` is drawn. */
export function proposalOverlay(
  text: string,
  edits: readonly TextEdit[],
  title: string,
  acceptKey = "",
  language = "",
  max = DEFAULT_MAX_CHARS,
): ProposalOverlay {
  const removed: Range[] = [];
  const inserted: Insertion[] = [];
  for (const edit of edits) {
    const { start, end } = edit.range;
    if (start.line !== end.line || start.character !== end.character) {
      removed.push(edit.range);
    }
    if (edit.newText !== "") {
      inserted.push({ at: end, text: oneLine(edit.newText, max) });
    }
  }
  const span = edits.length > 0 ? enclosing(edits.map((e) => e.range)) : null;
  const oldStarts = lineStarts(text);
  const first = Math.min(span ? span.start.line : 0, oldStarts.length - 1);
  const last = Math.min(span ? span.end.line : 0, oldStarts.length - 1);
  const after = applyEdits(text, edits).split(/\r\n|\r|\n/);
  const grown = after.length - oldStarts.length;
  const shown = after.slice(first, Math.max(first, last + 1 + grown)).join("\n");
  const keyHint = acceptKey ? ` (${acceptKey} accepts)` : "";
  return {
    removed,
    inserted,
    firstLine: first,
    lastLine: last,
    hover: `**${title}**: the lines after accepting${keyHint}\n\n${codeBlock(shown, language)}`,
  };
}
