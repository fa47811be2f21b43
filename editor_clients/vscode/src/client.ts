// The Language Client for `diffill serve`: how it is started, which documents it gets, how
// settings reach it, and the two notifications LSP has no UI for.

import * as vscode from "vscode";
import {
  type ConfigurationParams,
  type FeatureState,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  type StaticFeature,
} from "vscode-languageclient/node";
import {
  type PreviewParams,
  PREVIEW_NOTIFICATION,
  type StatusParams,
  STATUS_NOTIFICATION,
  isPreviewParams,
  isStatusParams,
} from "./protocol";
import { type ExtensionSettings, serverSection } from "./settings";

export const CLIENT_ID = "diffill"; // also the prefix of `diffill.trace.server`

/** Experimental client capabilities the server checks: `diffillPreview` asks for
 * `diffill/preview` (always: its steps and phases feed the request's one progress
 * notification; `diffill.livePreview` decides only whether the text is drawn), and
 * `diffillProgress` tells the server not to create a work-done progress of its own for the
 * extension's requests, which would show the same progress a second time. */
class PreviewCapability implements StaticFeature {
  fillClientCapabilities(capabilities: { experimental?: unknown }): void {
    const experimental =
      typeof capabilities.experimental === "object" && capabilities.experimental !== null
        ? capabilities.experimental
        : {};
    capabilities.experimental = { ...experimental, diffillPreview: true, diffillProgress: true };
  }

  initialize(): void {}

  getState(): FeatureState {
    return { kind: "static" };
  }

  clear(): void {}
}

export interface ClientHandlers {
  status(params: StatusParams): void;
  preview(params: PreviewParams): void;
}

function serverSettings(scope?: vscode.Uri): Record<string, unknown> {
  return serverSection(vscode.workspace.getConfiguration("diffill", scope));
}

export function createClient(
  server: { command: string; args: string[] },
  settings: ExtensionSettings,
  output: vscode.LogOutputChannel,
  trace: vscode.LogOutputChannel,
  handlers: ClientHandlers,
): LanguageClient {
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const executable = { command: server.command, args: server.args, ...(cwd ? { options: { cwd } } : {}) };
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: settings.languages.flatMap((language) => [
      { scheme: "file", language },
      { scheme: "untitled", language },
    ]),
    outputChannel: output,
    traceOutputChannel: trace,
    initializationOptions: { diffill: serverSettings() },
    middleware: {
      workspace: {
        // Answer the server's workspace/configuration with its own settings only.
        configuration: async (params: ConfigurationParams, token, next) => {
          const answers = await next(params, token);
          if (!Array.isArray(answers)) {
            return answers;
          }
          return params.items.map((item, i) =>
            item.section === "diffill"
              ? serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
              : answers[i],
          );
        },
      },
    },
  };
  const client = new LanguageClient(CLIENT_ID, "diffill", serverOptions, clientOptions);
  client.registerFeature(new PreviewCapability());
  client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
    if (isStatusParams(params)) {
      handlers.status(params);
    }
  });
  client.onNotification(PREVIEW_NOTIFICATION, (params: unknown) => {
    if (isPreviewParams(params)) {
      handlers.preview(params);
    }
  });
  return client;
}

/** Send the server its settings after they changed (the push form of
 * workspace/didChangeConfiguration: the server applies them before its next message). */
export function pushSettings(client: LanguageClient): Promise<void> {
  return client.sendNotification("workspace/didChangeConfiguration", {
    settings: { diffill: serverSettings() },
  });
}
