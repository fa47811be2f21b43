import * as path from "node:path";

// The `diffill` settings: which belong to the server (sent to it as they are: it validates
// them and reports a bad value) and which to this extension (validated here, the default
// kept for a bad value), and the command that starts the server. No `vscode` import: the
// caller passes a `vscode.WorkspaceConfiguration`, which has the `get` used here.

export interface ConfigReader {
  get<T>(key: string): T | undefined;
}

/** The server's settings (server/protocol.py `Settings`, camelCase), declared with the same
 * defaults in package.json. Anything else under `diffill` is the extension's own and is never
 * sent: the server warns about keys it does not know. */
export const SERVER_SETTINGS = [
  "model",
  "device",
  "dtype",
  "preset",
  "steps",
  "threshold",
  "temperature",
  "maxSpanTokens",
  "maxContextTokens",
  "diagnostics",
  "diagnosticsDelayMs",
  "warmContext",
  "warmContextDelayMs",
  "contextCacheEntries",
  "inlineCompletion",
  "preview",
] as const;

export type ServerSetting = (typeof SERVER_SETTINGS)[number];

/** The section the server gets (initializationOptions, workspace/configuration and
 * workspace/didChangeConfiguration). `null` is sent as it is: for model, device and dtype it means
 * "as `diffill serve` was started". */
export function serverSection(config: ConfigReader): Record<string, unknown> {
  const section: Record<string, unknown> = {};
  for (const key of SERVER_SETTINGS) {
    const value = config.get<unknown>(key);
    if (value !== undefined) {
      section[key] = value;
    }
  }
  return section;
}

export interface ExtensionSettings {
  command: string[]; // diffill.server.command
  pythonPath: string; // diffill.server.pythonPath ("" : use the command)
  languages: string[];
  confirm: boolean;
  livePreview: boolean;
}

export const EXTENSION_DEFAULTS: Readonly<ExtensionSettings> = Object.freeze({
  command: ["diffill", "serve"],
  pythonPath: "",
  languages: [
    "python",
    "javascript",
    "javascriptreact",
    "typescript",
    "typescriptreact",
    "go",
    "rust",
    "java",
  ],
  confirm: true,
  livePreview: true,
});

/** Settings whose change needs a new server process (the rest apply to the running one). */
export const RESTART_SETTINGS = [
  "server.command",
  "server.pythonPath",
  "languages",
] as const;

function stringList(value: unknown, allowEmpty: boolean): value is string[] {
  return (
    Array.isArray(value) &&
    (allowEmpty || value.length > 0) &&
    value.every((item) => typeof item === "string" && item.trim() !== "")
  );
}

/** The extension's settings; a bad value is reported (one message each) and the default kept. */
export function extensionSettings(config: ConfigReader): {
  settings: ExtensionSettings;
  problems: string[];
} {
  const problems: string[] = [];
  const pick = <T>(
    key: string,
    fallback: T,
    valid: (value: unknown) => value is T,
    expected: string,
  ): T => {
    const value = config.get<unknown>(key);
    if (value === undefined || value === null) {
      return fallback;
    }
    if (!valid(value)) {
      problems.push(
        `diffill.${key} must be ${expected}, not ${JSON.stringify(value)}; using ${JSON.stringify(fallback)}`,
      );
      return fallback;
    }
    return value;
  };
  const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
  const isString = (v: unknown): v is string => typeof v === "string";
  const d = EXTENSION_DEFAULTS;
  return {
    settings: {
      command: pick(
        "server.command",
        [...d.command],
        (v): v is string[] => stringList(v, false),
        "a non-empty list of non-empty strings (the program, then its arguments)",
      ),
      pythonPath: pick("server.pythonPath", d.pythonPath, isString, "a path").trim(),
      languages: pick(
        "languages",
        [...d.languages],
        (v): v is string[] => stringList(v, true),
        "a list of language ids",
      ),
      confirm: pick("confirm", d.confirm, isBoolean, "true or false"),
      livePreview: pick("livePreview", d.livePreview, isBoolean, "true or false"),
    },
    problems,
  };
}

/** `python -m <this>` runs `diffill` (server/cli.py). */
export const PYTHON_SERVER_ARGS = ["-m", "diffill.server.cli", "serve"] as const;

export interface Places {
  home: string;
  workspaceFolder?: string | undefined; // the first workspace folder, when one is open
  env: Record<string, string | undefined>;
}

/** `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~` expanded. */
export function expand(value: string, places: Places): string | { error: string } {
  let missing = "";
  let out = value.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (name === "workspaceFolder") {
      if (places.workspaceFolder === undefined) {
        missing = `${whole} needs an open folder`;
        return whole;
      }
      return places.workspaceFolder;
    }
    if (name === "userHome") {
      return places.home;
    }
    if (name.startsWith("env:")) {
      return places.env[name.slice(4)] ?? "";
    }
    missing = `unknown variable ${whole}`;
    return whole;
  });
  if (missing) {
    return { error: missing };
  }
  if (out === "~" || out.startsWith("~/")) {
    out = places.home + out.slice(1);
  }
  return out;
}

/** The server's program and arguments: `<pythonPath> -m diffill.server.cli serve` when a
 * Python interpreter is set, else `diffill.server.command`. */
export function serverCommand(
  settings: Pick<ExtensionSettings, "command" | "pythonPath">,
  places: Places,
): { command: string; args: string[] } | { error: string } {
  const argv = settings.pythonPath
    ? [settings.pythonPath, ...PYTHON_SERVER_ARGS]
    : settings.command;
  const setting = settings.pythonPath ? "diffill.server.pythonPath" : "diffill.server.command";
  const expanded: string[] = [];
  for (const part of argv) {
    const value = expand(part, places);
    if (typeof value !== "string") {
      return { error: `${setting}: ${value.error}` };
    }
    expanded.push(value);
  }
  const [command, ...args] = expanded;
  if (command === undefined || command === "") {
    return { error: `${setting} names no program` };
  }
  return { command, args };
}

/**
 * Where `command` is found: itself when it names a folder (relative to `cwd`), else the first
 * executable of that name on the PATH (with Windows' extensions there). Undefined when there
 * is none, so the user hears which setting to fix instead of a failed spawn.
 */
export function findProgram(
  command: string,
  env: Record<string, string | undefined>,
  options: { platform: string; cwd?: string | undefined; executable: (file: string) => boolean },
): string | undefined {
  const windows = options.platform === "win32";
  const paths = windows ? path.win32 : path.posix;
  const extensions = windows
    ? ["", ...(env["PATHEXT"] ?? ".COM;.EXE;.BAT;.CMD").split(";").filter(Boolean)]
    : [""];
  const hasFolder = command.includes("/") || (windows && command.includes("\\"));
  const folders = hasFolder
    ? [""]
    : (env["PATH"] ?? env["Path"] ?? "").split(windows ? ";" : ":").filter(Boolean);
  for (const folder of folders) {
    const base = hasFolder ? paths.resolve(options.cwd ?? "", command) : paths.join(folder, command);
    for (const extension of extensions) {
      if (options.executable(base + extension)) {
        return base + extension;
      }
    }
  }
  return undefined;
}
