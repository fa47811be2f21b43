// LSP positions and text edits over a plain string, with LSP's rules: lines end at "\n",
// "\r\n" or "\r"; a character is a UTF-16 code unit, which is what a JS string index counts
// (the encoding VS Code negotiates); a position past the end of its line means the line's end
// and one past the last line means the end of the text.

import type { Position, Range, TextEdit } from "./protocol";

/** The offset where each line starts. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 /* \r */) {
      if (text.charCodeAt(i + 1) === 10) {
        i++;
      }
      starts.push(i + 1);
    } else if (c === 10 /* \n */) {
      starts.push(i + 1);
    }
  }
  return starts;
}

/** The end of line `line`'s content (before its line break). */
function contentEnd(text: string, starts: number[], line: number): number {
  let end = line + 1 < starts.length ? (starts[line + 1] as number) : text.length;
  if (end > 0 && text[end - 1] === "\n") {
    end--;
  }
  if (end > 0 && text[end - 1] === "\r") {
    end--;
  }
  return Math.max(end, starts[line] as number);
}

export function offsetAt(text: string, position: Position, starts = lineStarts(text)): number {
  if (position.line >= starts.length) {
    return text.length;
  }
  const start = starts[position.line] as number;
  return Math.min(start + position.character, contentEnd(text, starts, position.line));
}

export function positionAt(text: string, offset: number, starts = lineStarts(text)): Position {
  offset = Math.max(0, Math.min(offset, text.length));
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] as number) <= offset) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return { line: low, character: offset - (starts[low] as number) };
}

export class EditError extends Error {}

/**
 * `text` with `edits` applied. As LSP requires, every range refers to the original text and
 * no two ranges overlap (edits inserting at the same position apply in the order given).
 */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const starts = lineStarts(text);
  const spans = edits
    .map((edit, index) => ({
      start: offsetAt(text, edit.range.start, starts),
      end: offsetAt(text, edit.range.end, starts),
      newText: edit.newText,
      index,
    }))
    .sort((a, b) => a.start - b.start || a.end - b.end || a.index - b.index);
  let out = "";
  let at = 0;
  for (const span of spans) {
    if (span.end < span.start) {
      throw new EditError("an edit's range ends before it starts");
    }
    if (span.start < at) {
      throw new EditError("two edits overlap");
    }
    out += text.slice(at, span.start) + span.newText;
    at = span.end;
  }
  return out + text.slice(at);
}

/** The smallest range covering all of `ranges` (which must not be empty). */
export function enclosing(ranges: readonly Range[]): Range {
  const before = (a: Position, b: Position) =>
    a.line < b.line || (a.line === b.line && a.character < b.character);
  let { start, end } = ranges[0] as Range;
  for (const r of ranges) {
    if (before(r.start, start)) {
      start = r.start;
    }
    if (before(end, r.end)) {
      end = r.end;
    }
  }
  return { start, end };
}
