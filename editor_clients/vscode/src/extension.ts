// diffill for VS Code: starts `diffill serve` and wires its LSP features into the editor, and
// adds what LSP has no UI for: the live denoising preview, proposals to accept or reject, and
// a status bar item. The server owns every edit; nothing here decides what to change.

import * as fs from "node:fs";
import * as os from "node:os";
import * as vscode from "vscode";
import { type LanguageClient, State } from "vscode-languageclient/node";
import { createClient, pushSettings } from "./client";
import { Decorations } from "./decorations";
import { type EditReport, Editing } from "./editing";
import type { Intent } from "./protocol";
import { rewriteStrength } from "./proposals";
import {
  type ExtensionSettings,
  RESTART_SETTINGS,
  SERVER_SETTINGS,
  extensionSettings,
  findProgram,
  serverCommand,
} from "./settings";
import { StatusBar } from "./statusBar";
import { TraceChannel } from "./trace";

class DiffillExtension implements vscode.Disposable {
  private readonly output = vscode.window.createOutputChannel("diffill", { log: true });
  private readonly trace = new TraceChannel();
  private readonly statusBar = new StatusBar();
  private readonly decorations = new Decorations();
  private readonly editing: Editing;
  private readonly subscriptions: vscode.Disposable[] = [];
  private languageClient: LanguageClient | undefined;
  private current: ExtensionSettings;
  private starting: Promise<void> = Promise.resolve();

  constructor() {
    this.current = this.readSettings();
    this.editing = new Editing(
      {
        client: () => (this.languageClient?.isRunning() ? this.languageClient : undefined),
        settings: () => this.current,
        changed: () => this.updateContext(),
      },
      this.decorations,
    );
    const command = (name: string, run: (...args: unknown[]) => unknown) =>
      this.subscriptions.push(vscode.commands.registerCommand(name, run));
    command("diffill.fill", () => this.edit("fill"));
    command("diffill.rewriteSelection", (arg) => {
      const strength = rewriteStrength(arg);
      if (typeof strength !== "number") {
        void vscode.window.showErrorMessage(`diffill: ${strength.error}`);
        return undefined;
      }
      return this.edit("rewrite", strength);
    });
    command("diffill.fix", () => this.edit("fix"));
    command("diffill.accept", (arg) => this.onDocument(arg, (doc) => this.editing.accept(doc)));
    command("diffill.reject", (arg) => this.onDocument(arg, (doc) => this.editing.reject(doc)));
    command("diffill.cancel", (arg) => this.cancel(arg));
    command("diffill.restartServer", () => this.restart());
    command("diffill.showLog", () => this.output.show(true));
    this.subscriptions.push(
      this.output,
      this.trace,
      this.statusBar,
      this.decorations,
      this.editing,
      vscode.languages.registerCodeLensProvider(
        [{ scheme: "file" }, { scheme: "untitled" }],
        this.decorations,
      ),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateContext()),
      vscode.workspace.onDidChangeConfiguration((event) => this.configurationChanged(event)),
    );
    this.updateContext();
  }

  /** Start the server (after any stop in progress). */
  start(): Promise<void> {
    // A start that failed must not block the next one.
    this.starting = this.starting.catch(() => undefined).then(() => this.startNow());
    return this.starting;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async startNow(): Promise<void> {
    const workspaceFolder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const server = serverCommand(this.current, { home: os.homedir(), workspaceFolder, env: process.env });
    if ("error" in server) {
      this.failed(server.error);
      return;
    }
    const program = findProgram(server.command, process.env, {
      platform: process.platform,
      cwd: workspaceFolder,
      executable,
    });
    if (program === undefined) {
      const setting = this.current.pythonPath ? "diffill.server.pythonPath" : "diffill.server.command";
      this.failed(
        `${server.command} was not found${server.command.includes("/") ? "" : " on the PATH"}. ` +
          `Install diffill (pip install -e . in its repository) or set ${setting} to where it is.`,
      );
      return;
    }
    this.statusBar.update({ phase: "starting", status: undefined, failure: undefined });
    this.output.info(`starting ${[server.command, ...server.args].join(" ")}`);
    const client = createClient({ command: program, args: server.args }, this.current, this.output, this.trace, {
      status: (params) => this.statusBar.update({ status: params }),
      preview: (params) => {
        if (this.current.livePreview && this.editing.runningIn(params.uri)) {
          this.decorations.showPreview(params);
        } else if (params.done) {
          this.decorations.clearPreview(params.uri);
        }
        this.editing.step(params);
      },
    });
    this.languageClient = client;
    client.onDidChangeState((event) => {
      if (client !== this.languageClient) {
        return;
      }
      if (event.newState === State.Starting) {
        this.statusBar.update({ phase: "starting", status: undefined });
      } else if (event.newState === State.Running) {
        this.statusBar.update({ phase: "running", failure: undefined });
      } else if (event.newState === State.Stopped) {
        this.editing.reset();
        if (this.statusBar.current.phase !== "failed") {
          this.statusBar.update({ phase: "stopped", status: undefined });
        }
      }
    });
    try {
      await client.start();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.failed(
        `${why}. Set diffill.server.command or diffill.server.pythonPath to where diffill is installed.`,
      );
    }
  }

  private failed(why: string): void {
    this.statusBar.update({ phase: "failed", failure: why, status: undefined });
    this.output.error(why);
    void vscode.window
      .showErrorMessage(`diffill: the server could not start: ${why}`, "Open Settings", "Show Log")
      .then((choice) => {
        if (choice === "Open Settings") {
          void vscode.commands.executeCommand("workbench.action.openSettings", "diffill.server");
        } else if (choice === "Show Log") {
          this.output.show(true);
        }
      });
  }

  private async stop(): Promise<void> {
    await this.starting.catch(() => undefined);
    const client = this.languageClient;
    this.languageClient = undefined;
    this.editing.reset();
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`stopping the server: ${error}`);
      }
      try {
        await client.dispose();
      } catch {
        // already stopped
      }
    }
    this.statusBar.update({ phase: "stopped", status: undefined, failure: undefined });
  }

  private readSettings(): ExtensionSettings {
    const { settings, problems } = extensionSettings(vscode.workspace.getConfiguration("diffill"));
    for (const problem of problems) {
      void vscode.window.showWarningMessage(`diffill: ${problem}`);
    }
    return settings;
  }

  private configurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration("diffill")) {
      return;
    }
    this.current = this.readSettings();
    this.updateContext();
    if (RESTART_SETTINGS.some((key) => event.affectsConfiguration(`diffill.${key}`))) {
      void this.restart();
      return;
    }
    const client = this.languageClient;
    if (client?.isRunning() && SERVER_SETTINGS.some((key) => event.affectsConfiguration(`diffill.${key}`))) {
      pushSettings(client).catch((error) => this.output.warn(`sending the settings: ${error}`));
    }
  }

  private async edit(intent: Intent, strength = 1): Promise<EditReport | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showWarningMessage("diffill: open a file first");
      return undefined;
    }
    return this.editing.run(intent, editor, strength);
  }

  /** Run `action` on the document a lens passed (its URI), else the active editor's. */
  private onDocument<T>(arg: unknown, action: (document: vscode.TextDocument) => T): T | undefined {
    const uri = typeof arg === "string" ? arg : arg instanceof vscode.Uri ? arg.toString() : undefined;
    const document = uri
      ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri)
      : vscode.window.activeTextEditor?.document;
    if (!document) {
      void vscode.window.showWarningMessage("diffill: no document with a proposal is open");
      return undefined;
    }
    return action(document);
  }

  /** Cancel the request of the given or active document, else every running request. */
  private cancel(arg: unknown): boolean {
    const uri =
      typeof arg === "string" ? arg : vscode.window.activeTextEditor?.document.uri.toString();
    if (uri !== undefined && this.editing.cancelIn(uri)) {
      return true;
    }
    const running = this.editing.states.documents().filter((u) => this.editing.runningIn(u));
    running.forEach((u) => this.editing.cancelIn(u));
    if (running.length === 0) {
      void vscode.window.showInformationMessage("diffill: no request is running");
    }
    return running.length > 0;
  }

  private updateContext(): void {
    const document = vscode.window.activeTextEditor?.document;
    const uri = document?.uri.toString();
    const states = this.editing.states;
    const set = (key: string, value: boolean) =>
      void vscode.commands.executeCommand("setContext", key, value);
    set("diffill.active", document !== undefined && this.current.languages.includes(document.languageId));
    set("diffill.running", uri !== undefined && states.runningIn(uri) !== undefined);
    set("diffill.proposalVisible", uri !== undefined && states.proposalIn(uri) !== undefined);
    const requests = states.documents().filter((u) => states.runningIn(u)).length;
    this.statusBar.update({ requests });
  }

  async deactivate(): Promise<void> {
    await this.stop();
  }

  dispose(): void {
    this.subscriptions.forEach((d) => d.dispose());
  }
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

let extension: DiffillExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  extension = new DiffillExtension();
  context.subscriptions.push(extension);
  void extension.start();
}

export async function deactivate(): Promise<void> {
  await extension?.deactivate();
  extension = undefined;
}
