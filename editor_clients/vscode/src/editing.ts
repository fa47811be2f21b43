// The edit commands. The server owns the editing: `textDocument/codeAction` names the span it
// would change (the placeholder at the cursor, the syntax error, the selection) without
// running the model, and `codeAction/resolve` runs the model and returns the edit *without
// applying it*, which is what a proposal needs. This file only picks the range from the
// editor, shows progress, and hands the answer to the state machine of proposals.ts.

import * as vscode from "vscode";
import {
  CodeActionRequest,
  CodeActionResolveRequest,
  type CodeAction,
  type LanguageClient,
  ResponseError,
} from "vscode-languageclient/node";
import {
  ACTION_KINDS,
  CONTENT_MODIFIED,
  type Intent,
  REQUEST_CANCELLED,
  type PreviewParams,
  type TextEdit,
  actionData,
  editsFor,
  progressMessage,
  rejectedProposal,
} from "./protocol";
import { type Answer, EditStates, NOTHING_HERE, type Running, type Settled } from "./proposals";
import type { Decorations } from "./decorations";
import type { ExtensionSettings } from "./settings";

export interface EditingHost {
  client(): LanguageClient | undefined; // undefined unless the server is running
  settings(): ExtensionSettings;
  changed(): void; // a request started or ended, a proposal appeared or went
}

const TITLES: Record<Intent, string> = {
  fill: "Filling the placeholder",
  rewrite: "Rewriting the selection",
  fix: "Repairing the syntax error",
};

/** How an edit request ended, for the caller (and the end-to-end test). */
export interface EditReport {
  outcome: Settled["outcome"] | "refused";
  reason?: string;
}

export class Editing implements vscode.Disposable {
  readonly states = new EditStates();
  private readonly cancellations = new Map<number, vscode.CancellationTokenSource>();
  private readonly progress = new Map<string, vscode.Progress<{ message?: string }>>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly host: EditingHost,
    private readonly decorations: Decorations,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((event) => {
        const uri = event.document.uri.toString();
        if (this.states.changed(uri, event.document.version)) {
          this.decorations.clearProposal(uri);
          vscode.window.setStatusBarMessage("diffill: proposal discarded (the document changed)", 5000);
          this.host.changed();
        }
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        const uri = document.uri.toString();
        this.cancelIn(uri);
        this.states.forget(uri);
        this.decorations.clearProposal(uri);
        this.decorations.clearPreview(uri);
        this.host.changed();
      }),
    ];
  }

  /** Run `intent` on the editor's selection (or the cursor, or its line). */
  async run(intent: Intent, editor: vscode.TextEditor, strength = 1): Promise<EditReport> {
    const client = this.host.client();
    if (!client) {
      return this.refuse("the server is not running (diffill: Restart the server starts it)");
    }
    const document = editor.document;
    const settings = this.host.settings();
    if (!settings.languages.includes(document.languageId)) {
      return this.refuse(
        `diffill is not enabled for ${document.languageId} files (setting diffill.languages)`,
      );
    }
    const range = targetRange(intent, editor);
    if (range === null) {
      return this.refuse(NOTHING_HERE[intent]);
    }
    const uri = document.uri.toString();
    const started = this.states.start(uri, intent, document.version);
    if ("refused" in started) {
      return this.refuse(started.refused);
    }
    if (started.dropped) {
      this.decorations.clearProposal(uri);
    }
    const running = started.running;
    const source = new vscode.CancellationTokenSource();
    this.cancellations.set(running.ticket, source);
    this.host.changed();
    try {
      const answer = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `diffill: ${TITLES[intent]}`,
          cancellable: true,
        },
        (progress, token) => {
          this.progress.set(uri, progress);
          token.onCancellationRequested(() => this.cancelIn(uri));
          // Cancelling ends the wait at once; the server's answer, when it comes, is dropped.
          const cancelled = new Promise<Answer>((resolve) =>
            source.token.onCancellationRequested(() => resolve({ kind: "cancelled" })),
          );
          return Promise.race([
            this.ask(client, document, intent, range, strength, source.token),
            cancelled,
          ]);
        },
      );
      const settled = this.states.settle(uri, running, answer, document.version, settings.confirm);
      if (settled === null) {
        return { outcome: "cancelled" };
      }
      return await this.conclude(document, settled);
    } finally {
      this.cancellations.delete(running.ticket);
      source.dispose();
      this.progress.delete(uri);
      this.decorations.clearPreview(uri);
      this.host.changed();
    }
  }

  /** Report what the server does (each denoising step, checking the result, each repair
   * round) on the progress notification of the document's request: the one place this
   * extension shows a request's progress (the server is asked not to add its own). */
  step(params: PreviewParams): void {
    this.progress.get(params.uri)?.report({ message: progressMessage(params) });
  }

  /** Stop the request running in the document: the buffer is left as it was. */
  cancelIn(uri: string): boolean {
    const running = this.states.cancel(uri);
    if (!running) {
      return false;
    }
    this.cancellations.get(running.ticket)?.cancel();
    this.decorations.clearPreview(uri);
    this.host.changed();
    return true;
  }

  async accept(document: vscode.TextDocument): Promise<EditReport> {
    const uri = document.uri.toString();
    const accepted = this.states.accept(uri, document.version);
    this.decorations.clearProposal(uri);
    this.host.changed();
    if ("refused" in accepted) {
      return this.refuse(accepted.refused);
    }
    return this.apply(document, accepted.edits);
  }

  reject(document: vscode.TextDocument): EditReport {
    const uri = document.uri.toString();
    const rejected = this.states.reject(uri);
    this.decorations.clearProposal(uri);
    this.host.changed();
    return rejected ? { outcome: "unchanged" } : this.refuse("no diffill proposal in this document");
  }

  /** The server went away: every request fails and every proposal goes. */
  reset(): void {
    for (const uri of this.states.documents()) {
      this.cancelIn(uri);
      this.states.forget(uri);
    }
    this.decorations.clearAll();
    this.host.changed();
  }

  private async ask(
    client: LanguageClient,
    document: vscode.TextDocument,
    intent: Intent,
    range: vscode.Range,
    strength: number,
    token: vscode.CancellationToken,
  ): Promise<Answer> {
    const uri = client.code2ProtocolConverter.asUri(document.uri);
    try {
      const listed = await client.sendRequest(
        CodeActionRequest.type,
        {
          textDocument: { uri },
          range: client.code2ProtocolConverter.asRange(range),
          context: { diagnostics: [], only: [ACTION_KINDS[intent]], triggerKind: 1 },
        },
        token,
      );
      const action = (listed ?? []).find(
        (item): item is CodeAction =>
          "kind" in item &&
          item.kind === ACTION_KINDS[intent] &&
          actionData((item as CodeAction).data, intent) !== null,
      );
      if (!action) {
        return { kind: "none" };
      }
      if (strength !== 1) {
        action.data = { ...(action.data as object), strength };
      }
      const resolved = await client.sendRequest(CodeActionResolveRequest.type, action, token);
      if (!resolved.edit) {
        // The server said why in a message; a proposal it did not apply is still shown.
        const rejected = rejectedProposal(resolved.data);
        if (rejected) {
          return {
            kind: "rejected",
            title: resolved.title,
            edits: rejected.edits,
            version: rejected.version,
            reason: rejected.reason,
          };
        }
        return { kind: "unchanged" };
      }
      const versions: number[] = [];
      const edits = editsFor(resolved.edit as never, uri, versions);
      return { kind: "edit", title: resolved.title, edits, versions };
    } catch (error) {
      if (token.isCancellationRequested) {
        return { kind: "cancelled" };
      }
      if (error instanceof ResponseError) {
        if (error.code === REQUEST_CANCELLED) {
          return { kind: "cancelled" };
        }
        if (error.code === CONTENT_MODIFIED) {
          return { kind: "stale" };
        }
      }
      return { kind: "error", message: error instanceof Error ? error.message : String(error) };
    }
  }

  private async conclude(document: vscode.TextDocument, settled: Settled): Promise<EditReport> {
    const report: EditReport = { outcome: settled.outcome };
    if (settled.reason !== undefined) {
      report.reason = settled.reason;
    }
    switch (settled.outcome) {
      case "applied":
        return this.apply(document, settled.apply ?? []);
      case "proposed":
        if (settled.proposal) {
          this.decorations.showProposal(document, settled.proposal);
        }
        return report;
      case "error":
        void vscode.window.showErrorMessage(`diffill: ${settled.reason ?? "the request failed"}`);
        return report;
      case "none":
      case "stale":
        void vscode.window.showWarningMessage(`diffill: ${settled.reason}`);
        return report;
      default:
        return report;
    }
  }

  /** Apply the server's minimal edits, so the cursor and other text stay where they were. */
  private async apply(document: vscode.TextDocument, edits: readonly TextEdit[]): Promise<EditReport> {
    const edit = new vscode.WorkspaceEdit();
    edit.set(
      document.uri,
      edits.map(
        (e) =>
          new vscode.TextEdit(
            new vscode.Range(
              e.range.start.line,
              e.range.start.character,
              e.range.end.line,
              e.range.end.character,
            ),
            e.newText,
          ),
      ),
    );
    if (await vscode.workspace.applyEdit(edit)) {
      return { outcome: "applied" };
    }
    return this.refuse("VS Code did not apply the edit");
  }

  private refuse(reason: string): EditReport {
    void vscode.window.showWarningMessage(`diffill: ${reason}`);
    return { outcome: "refused", reason };
  }

  runningIn(uri: string): Running | undefined {
    return this.states.runningIn(uri);
  }

  dispose(): void {
    this.cancellations.forEach((source) => source.cancel());
    this.subscriptions.forEach((d) => d.dispose());
  }
}

/** The range a command acts on: fill the selection or the cursor; rewrite and fix the
 * selection or the cursor's line. Null when a rewrite has nothing but blanks to work on. */
function targetRange(intent: Intent, editor: vscode.TextEditor): vscode.Range | null {
  const selection = editor.selection;
  if (!selection.isEmpty || intent === "fill") {
    return new vscode.Range(selection.start, selection.end);
  }
  const line = editor.document.lineAt(selection.active.line);
  if (intent === "rewrite" && line.isEmptyOrWhitespace) {
    return null;
  }
  return line.range;
}
