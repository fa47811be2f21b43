// Paints the overlays of overlays.ts into every editor that shows their document: the live
// preview (the span dimmed, its current text after it) and proposals (removed text struck
// through, inserted text after it, an Accept | Reject lens above). Editors that open later
// are painted when they become visible.

import * as vscode from "vscode";
import {
  type PreviewOverlay,
  type ProposalOverlay,
  previewOverlay,
  proposalOverlay,
} from "./overlays";
import type { Position, PreviewParams, Range } from "./protocol";
import type { Proposal } from "./proposals";

function toPosition(p: Position): vscode.Position {
  return new vscode.Position(p.line, p.character);
}

function toRange(r: Range): vscode.Range {
  return new vscode.Range(toPosition(r.start), toPosition(r.end));
}

function markdown(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text);
  md.supportThemeIcons = true;
  return md;
}

export class Decorations implements vscode.Disposable, vscode.CodeLensProvider {
  private readonly previewSpan = vscode.window.createTextEditorDecorationType({
    opacity: "0.45",
  });
  private readonly previewText = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor("diffill.previewForeground"),
      fontStyle: "italic",
      margin: "0 0 0 1em",
    },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly removed = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor("diffill.proposalRemovedBackground"),
    textDecoration: "line-through",
    overviewRulerColor: new vscode.ThemeColor("diffill.proposalRemovedBackground"),
    overviewRulerLane: vscode.OverviewRulerLane.Center,
  });
  private readonly inserted = vscode.window.createTextEditorDecorationType({
    after: {
      backgroundColor: new vscode.ThemeColor("diffill.proposalInsertedBackground"),
      margin: "0 0 0 0.3em",
    },
    overviewRulerColor: new vscode.ThemeColor("diffill.proposalInsertedBackground"),
    overviewRulerLane: vscode.OverviewRulerLane.Center,
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });

  private readonly previews = new Map<string, PreviewOverlay>();
  private readonly proposals = new Map<string, ProposalOverlay>();
  private readonly warnings = new Map<string, string>(); // why the server did not apply it
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    this.subscriptions = [
      this.previewSpan,
      this.previewText,
      this.removed,
      this.inserted,
      this.lensesChanged,
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.paint(e))),
    ];
  }

  /** Draw (or, for the last notification, clear) a `diffill/preview`. */
  showPreview(params: PreviewParams): void {
    const document = this.document(params.uri);
    const overlay = previewOverlay(params, document?.languageId ?? "");
    if (overlay === null) {
      this.clearPreview(params.uri);
      return;
    }
    this.previews.set(params.uri, overlay);
    this.repaint(params.uri);
  }

  clearPreview(uri: string): void {
    if (this.previews.delete(uri)) {
      this.repaint(uri);
    }
  }

  showProposal(document: vscode.TextDocument, proposal: Proposal): void {
    const uri = document.uri.toString();
    const title = proposal.warning
      ? `${proposal.title} (not applied by diffill: ${proposal.warning})`
      : proposal.title;
    const overlay = proposalOverlay(document.getText(), proposal.edits, title, "", document.languageId);
    this.proposals.set(uri, overlay);
    if (proposal.warning) {
      this.warnings.set(uri, proposal.warning);
    } else {
      this.warnings.delete(uri);
    }
    this.repaint(uri);
    this.lensesChanged.fire();
  }

  clearProposal(uri: string): void {
    this.warnings.delete(uri);
    if (this.proposals.delete(uri)) {
      this.repaint(uri);
      this.lensesChanged.fire();
    }
  }

  clearAll(): void {
    const uris = new Set([...this.previews.keys(), ...this.proposals.keys()]);
    this.previews.clear();
    this.proposals.clear();
    this.warnings.clear();
    uris.forEach((uri) => this.repaint(uri));
    this.lensesChanged.fire();
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const uri = document.uri.toString();
    const overlay = this.proposals.get(uri);
    if (!overlay) {
      return [];
    }
    const line = Math.min(overlay.firstLine, document.lineCount - 1);
    const at = new vscode.Range(line, 0, line, 0);
    const warning = this.warnings.get(uri);
    return [
      new vscode.CodeLens(at, {
        title: warning ? "$(warning) Accept anyway" : "$(check) Accept",
        tooltip: warning
          ? `diffill: apply it although ${warning}`
          : "diffill: apply the proposal",
        command: "diffill.accept",
        arguments: [uri],
      }),
      new vscode.CodeLens(at, {
        title: "$(close) Reject",
        tooltip: "diffill: discard the proposal",
        command: "diffill.reject",
        arguments: [uri],
      }),
    ];
  }

  private document(uri: string): vscode.TextDocument | undefined {
    return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri);
  }

  private repaint(uri: string): void {
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === uri) {
        this.paint(editor);
      }
    }
  }

  private paint(editor: vscode.TextEditor): void {
    const uri = editor.document.uri.toString();
    const doc = editor.document;
    const preview = this.previews.get(uri);
    const proposal = this.proposals.get(uri);
    const spans: vscode.DecorationOptions[] = [];
    const texts: vscode.DecorationOptions[] = [];
    if (preview) {
      const span = doc.validateRange(toRange(preview.span));
      const at = doc.validatePosition(toPosition(preview.at));
      const hoverMessage = markdown(preview.hover);
      if (!span.isEmpty) {
        spans.push({ range: span, hoverMessage });
      }
      texts.push({
        range: new vscode.Range(at, at),
        hoverMessage,
        renderOptions: { after: { contentText: `⟳ ${preview.label}: ${preview.text}` } },
      });
    }
    const removed: vscode.DecorationOptions[] = [];
    const inserted: vscode.DecorationOptions[] = [];
    if (proposal) {
      const hoverMessage = markdown(proposal.hover);
      for (const range of proposal.removed) {
        removed.push({ range: doc.validateRange(toRange(range)), hoverMessage });
      }
      for (const insertion of proposal.inserted) {
        const at = doc.validatePosition(toPosition(insertion.at));
        inserted.push({
          range: new vscode.Range(at, at),
          hoverMessage,
          renderOptions: { after: { contentText: insertion.text } },
        });
      }
    }
    editor.setDecorations(this.previewSpan, spans);
    editor.setDecorations(this.previewText, texts);
    editor.setDecorations(this.removed, removed);
    editor.setDecorations(this.inserted, inserted);
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
  }
}
