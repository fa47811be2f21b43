// `diffill.trace.server` as it works in other extensions: off, messages or verbose, shown in
// an output channel of its own ("diffill (LSP trace)") at once. vscode-languageclient ≥ 10
// traces only into a log output channel set to the Trace log level, which a user rarely
// finds; the channel here is that log channel as the language client sees it, reporting
// the Trace level while the setting asks for a trace and writing each line to a plain
// output channel, which shows everything.

import * as vscode from "vscode";

export type TraceSetting = "off" | "messages" | "verbose";

export function traceSetting(): TraceSetting {
  const value = vscode.workspace.getConfiguration("diffill").get<unknown>("trace.server");
  return value === "messages" || value === "verbose" ? value : "off";
}

export class TraceChannel implements vscode.LogOutputChannel {
  readonly name = "diffill (LSP trace)";
  private readonly lines = vscode.window.createOutputChannel(this.name);
  private readonly levelChanged = new vscode.EventEmitter<vscode.LogLevel>();
  readonly onDidChangeLogLevel = this.levelChanged.event;
  private readonly watch: vscode.Disposable;
  private setting: TraceSetting = traceSetting();

  constructor() {
    this.watch = vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("diffill.trace.server")) {
        this.setting = traceSetting();
        this.levelChanged.fire(this.logLevel); // the language client re-reads its trace
      }
    });
  }

  get logLevel(): vscode.LogLevel {
    return this.setting === "off" ? vscode.LogLevel.Info : vscode.LogLevel.Trace;
  }

  trace(message: string): void {
    if (this.setting !== "off") {
      this.lines.appendLine(message);
    }
  }

  debug(message: string): void {
    this.lines.appendLine(message);
  }

  info(message: string): void {
    this.lines.appendLine(message);
  }

  warn(message: string): void {
    this.lines.appendLine(message);
  }

  error(error: string | Error): void {
    this.lines.appendLine(error instanceof Error ? error.message : error);
  }

  append(value: string): void {
    this.lines.append(value);
  }

  appendLine(value: string): void {
    this.lines.appendLine(value);
  }

  replace(value: string): void {
    this.lines.replace(value);
  }

  clear(): void {
    this.lines.clear();
  }

  show(column?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof column === "boolean" || column === undefined) {
      this.lines.show(column);
    } else {
      this.lines.show(column, preserveFocus);
    }
  }

  hide(): void {
    this.lines.hide();
  }

  dispose(): void {
    this.watch.dispose();
    this.levelChanged.dispose();
    this.lines.dispose();
  }
}
