import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  type ConfigReader,
  EXTENSION_DEFAULTS,
  PYTHON_SERVER_ARGS,
  SERVER_SETTINGS,
  expand,
  extensionSettings,
  findProgram,
  serverCommand,
  serverSection,
} from "../src/settings";

/** A `diffill` configuration as VS Code returns it: nested objects for dotted keys. */
function config(values: Record<string, unknown>): ConfigReader {
  return {
    get<T>(key: string): T | undefined {
      let node: unknown = values;
      for (const part of key.split(".")) {
        if (typeof node !== "object" || node === null || !(part in node)) {
          return undefined;
        }
        node = (node as Record<string, unknown>)[part];
      }
      return node as T;
    },
  };
}

const places = { home: "/home/u", workspaceFolder: "/w/proj", env: { VENV: "/opt/venv" } };

describe("serverSection", () => {
  test("sends the server its settings only, null included", () => {
    const section = serverSection(
      config({
        model: null,
        device: "auto",
        steps: 8,
        threshold: 0.9,
        warmContext: false,
        inlineCompletion: false,
        server: { command: ["diffill", "serve"] },
        trace: { server: "verbose" },
        confirm: true,
        livePreview: true,
      }),
    );
    assert.deepEqual(section, {
      model: null,
      device: "auto",
      steps: 8,
      threshold: 0.9,
      warmContext: false,
      inlineCompletion: false,
    });
  });

  test("passes a bad value on: the server reports it and keeps its default", () => {
    assert.deepEqual(serverSection(config({ threshold: 7 })), { threshold: 7 });
  });
});

describe("extensionSettings", () => {
  test("unset: the defaults, no problems", () => {
    assert.deepEqual(extensionSettings(config({})), {
      settings: { ...EXTENSION_DEFAULTS },
      problems: [],
    });
  });

  test("a bad value is reported by name and the default kept", () => {
    const { settings, problems } = extensionSettings(
      config({ server: { command: [], pythonPath: 3 }, confirm: "yes", languages: ["python", ""] }),
    );
    assert.deepEqual(settings, { ...EXTENSION_DEFAULTS });
    assert.equal(problems.length, 4);
    for (const key of ["server.command", "server.pythonPath", "confirm", "languages"]) {
      assert.ok(problems.some((p) => p.startsWith(`diffill.${key} must be`)), key);
    }
  });

  test("valid values are taken", () => {
    const { settings, problems } = extensionSettings(
      config({
        server: { command: ["/venv/bin/diffill", "serve", "--device", "auto"], pythonPath: " /p " },
        confirm: false,
        livePreview: false,
        languages: ["python"],
      }),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, {
      command: ["/venv/bin/diffill", "serve", "--device", "auto"],
      pythonPath: "/p",
      confirm: false,
      livePreview: false,
      languages: ["python"],
    });
  });
});

describe("serverCommand", () => {
  test("the default is `diffill serve` from the PATH", () => {
    assert.deepEqual(serverCommand(EXTENSION_DEFAULTS, places), {
      command: "diffill",
      args: ["serve"],
    });
  });

  test("a Python interpreter wins over the command", () => {
    const result = serverCommand(
      { command: ["diffill", "serve"], pythonPath: "${workspaceFolder}/.venv/bin/python" },
      places,
    );
    assert.deepEqual(result, {
      command: "/w/proj/.venv/bin/python",
      args: [...PYTHON_SERVER_ARGS],
    });
  });

  test("variables and ~ are expanded in every part", () => {
    const result = serverCommand(
      { command: ["~/bin/diffill", "serve", "--log-file", "${userHome}/d.log", "${env:VENV}"], pythonPath: "" },
      places,
    );
    assert.deepEqual(result, {
      command: "/home/u/bin/diffill",
      args: ["serve", "--log-file", "/home/u/d.log", "/opt/venv"],
    });
  });

  test("${workspaceFolder} without a folder open is an error naming the setting", () => {
    const result = serverCommand(
      { command: ["${workspaceFolder}/.venv/bin/diffill", "serve"], pythonPath: "" },
      { ...places, workspaceFolder: undefined },
    );
    assert.deepEqual(result, {
      error: "diffill.server.command: ${workspaceFolder} needs an open folder",
    });
  });

  test("an unknown variable is an error", () => {
    assert.deepEqual(expand("${workspaceRoot}/x", places), {
      error: "unknown variable ${workspaceRoot}",
    });
  });
});

describe("findProgram", () => {
  const files = new Set(["/usr/bin/diffill", "/w/proj/.venv/bin/python", "C:\\py\\Scripts\\diffill.EXE"]);
  const executable = (file: string) => files.has(file);
  const linux = { platform: "linux", cwd: "/w/proj", executable };

  test("searches the PATH in order", () => {
    assert.equal(findProgram("diffill", { PATH: "/nope:/usr/bin" }, linux), "/usr/bin/diffill");
    assert.equal(findProgram("diffill", { PATH: "/nope" }, linux), undefined);
    assert.equal(findProgram("diffill", {}, linux), undefined);
  });

  test("a path is taken as it is, relative to the workspace folder", () => {
    assert.equal(findProgram(".venv/bin/python", {}, linux), "/w/proj/.venv/bin/python");
    assert.equal(findProgram("/w/proj/.venv/bin/python", {}, linux), "/w/proj/.venv/bin/python");
    assert.equal(findProgram("/elsewhere/python", { PATH: "/w/proj/.venv/bin" }, linux), undefined);
  });

  test("on Windows, with the PATHEXT extensions", () => {
    const found = findProgram(
      "diffill",
      { Path: "C:\\py\\Scripts", PATHEXT: ".COM;.EXE" },
      { platform: "win32", executable },
    );
    assert.equal(found, "C:\\py\\Scripts\\diffill.EXE");
  });
});

describe("package.json", () => {
  // The compiled tests run from out/test/, two folders below it.
  const manifest = readFileSync(join(__dirname, "..", "..", "package.json"), "utf8");
  const pkg = JSON.parse(manifest) as {
    activationEvents: string[];
    capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
    contributes: {
      commands: { command: string; title: string }[];
      keybindings: { command: string; key: string }[];
      configuration: { properties: Record<string, Record<string, unknown>> }[];
    };
  };
  const properties = Object.assign({}, ...pkg.contributes.configuration.map((c) => c.properties)) as Record<
    string,
    Record<string, unknown>
  >;

  test("declares every server setting, and nothing else outside the extension's own", () => {
    const extensionKeys = [
      "diffill.server.command",
      "diffill.server.pythonPath",
      "diffill.languages",
      "diffill.confirm",
      "diffill.livePreview",
      "diffill.trace.server",
    ];
    assert.deepEqual(
      Object.keys(properties).sort(),
      [...SERVER_SETTINGS.map((k) => `diffill.${k}`), ...extensionKeys].sort(),
    );
  });

  test("every setting has a type, a default and a description", () => {
    for (const [key, schema] of Object.entries(properties)) {
      assert.ok("type" in schema, `${key} has a type`);
      assert.ok("default" in schema, `${key} has a default`);
      assert.ok(
        typeof (schema["markdownDescription"] ?? schema["description"]) === "string",
        `${key} has a description`,
      );
    }
  });

  test("the extension's defaults are the declared ones", () => {
    assert.deepEqual(properties["diffill.server.command"]?.["default"], EXTENSION_DEFAULTS.command);
    assert.equal(properties["diffill.server.pythonPath"]?.["default"], EXTENSION_DEFAULTS.pythonPath);
    assert.deepEqual(properties["diffill.languages"]?.["default"], EXTENSION_DEFAULTS.languages);
    assert.equal(properties["diffill.confirm"]?.["default"], EXTENSION_DEFAULTS.confirm);
    assert.equal(properties["diffill.livePreview"]?.["default"], EXTENSION_DEFAULTS.livePreview);
    assert.deepEqual(properties["diffill.trace.server"]?.["enum"], ["off", "messages", "verbose"]);
  });

  test("contributes the commands, each with a keybinding", () => {
    const commands = pkg.contributes.commands.map((c) => c.command);
    for (const name of ["rewriteSelection", "fill", "fix", "accept", "reject", "cancel"]) {
      assert.ok(commands.includes(`diffill.${name}`), name);
      assert.ok(
        pkg.contributes.keybindings.some((k) => k.command === `diffill.${name}`),
        `${name} has a key`,
      );
    }
    for (const binding of pkg.contributes.keybindings) {
      assert.ok(commands.includes(binding.command), `${binding.command} is contributed`);
    }
  });

  test("an untrusted workspace cannot choose the program the extension starts", () => {
    const untrusted = pkg.capabilities.untrustedWorkspaces;
    assert.equal(untrusted.supported, "limited");
    for (const key of ["diffill.server.command", "diffill.server.pythonPath"]) {
      assert.ok(untrusted.restrictedConfigurations.includes(key), key);
    }
  });

  test("activates on each default language", () => {
    for (const language of EXTENSION_DEFAULTS.languages) {
      assert.ok(pkg.activationEvents.includes(`onLanguage:${language}`), language);
    }
  });
});
