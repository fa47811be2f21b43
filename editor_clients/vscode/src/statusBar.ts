// The status bar item: model, device, and whether it is working (status.ts says what to show).

import * as vscode from "vscode";
import { type StatusState, statusView } from "./status";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    "diffill.status",
    vscode.StatusBarAlignment.Right,
    100,
  );
  private state: StatusState = { phase: "starting", requests: 0 };

  constructor() {
    this.item.name = "diffill";
    this.render();
    this.item.show();
  }

  update(change: Partial<StatusState>): void {
    this.state = { ...this.state, ...change };
    this.render();
  }

  get current(): Readonly<StatusState> {
    return this.state;
  }

  private render(): void {
    const view = statusView(this.state);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor =
      view.severity === "normal"
        ? undefined
        : new vscode.ThemeColor(`statusBarItem.${view.severity}Background`);
  }

  dispose(): void {
    this.item.dispose();
  }
}
