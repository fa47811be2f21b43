// The end-to-end test in a real VS Code: code-server with the packaged extension installed,
// driven through headless Chromium by playwright-core. It opens a Python file whose function
// body is a TODO, runs "diffill: Fill placeholder", waits for the proposal (its decorations and
// Accept lens), checks the file on disk is untouched, accepts, saves, and checks the file on
// disk. Then: the live preview appears while the model works and cancelling leaves the file as
// it was; an inline completion from the server is shown as ghost text and accepted with Tab.
//
// The server is the stand-in of tests/lsp_harness.py, whose answer is the document's
// `# out: "..."` line, so the expected file is exact. With DIFFILL_E2E_SCENARIO=real the
// server is `diffill serve` with the shipped model instead: a fill's proposal appears (the
// file on disk untouched), accepting and saving writes a file that parses; a fill cancelled
// while it runs and a fill rejected leave the file as it was.
// Every wait is for something on the page or on disk, bounded by a timeout. Run by
// e2e/run.sh, which finds or installs what it needs and passes it here in the environment:
//   CODE_SERVER  the code-server entry script      NODE24     the Node that runs it
//   CHROMIUM     the browser                       PLAYWRIGHT the playwright-core folder
//   VSIX         the packaged extension            PYTHON     a Python with diffill installed
//   REPO         the repository root               ARTIFACTS  where failure screenshots go

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`drive.mjs: $${name} is not set (run e2e/run.sh)`);
  }
  return value;
};
const [CODE_SERVER, NODE24, CHROMIUM, PLAYWRIGHT, VSIX, PYTHON, REPO, ARTIFACTS] = [
  "CODE_SERVER", "NODE24", "CHROMIUM", "PLAYWRIGHT", "VSIX", "PYTHON", "REPO", "ARTIFACTS",
].map(env);
const TIMEOUT_MS = Number(process.env.DIFFILL_E2E_TIMEOUT_MS || 120000);
const SCENARIO = process.env.DIFFILL_E2E_SCENARIO || "stand-in";
if (!["stand-in", "real"].includes(SCENARIO)) {
  throw new Error(`drive.mjs: DIFFILL_E2E_SCENARIO is stand-in or real, not ${SCENARIO}`);
}
// The real scenario's file: the README's example, whose TODO body the shipped model fills
// with code that parses (temperature 0: the same every run).
const SHAPES = readFileSync(join(REPO, "examples", "shapes.py"), "utf8");
const SHAPES_PASS = "16:9"; // on the `pass` under `# TODO: the circumference of the circle`

const SOURCE = '# out: "return a + b"\n\n\ndef add(a, b):\n    # TODO: add them\n    pass\n';
const EXPECTED = '# out: "return a + b"\n\n\ndef add(a, b):\n    return a + b\n';
// `# slow`: the stand-in denoises until cancelled, sending a preview each step.
const SLOW = '# slow\n# out: "return a * b"\n\n\ndef mul(a, b):\n    pass\n';
// Inline completion at the end of `return `.
const PARTIAL = '# out: "a - b"\ndef sub(a, b):\n    return \n';
const COMPLETED = '# out: "a - b"\ndef sub(a, b):\n    return a - b\n';

const started = Date.now();
const timings = {};
const mark = (name) => {
  timings[name] = Number(((Date.now() - started) / 1000).toFixed(1));
  console.log(`[e2e] ${timings[name]}s ${name}`);
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function until(what, check, timeout = TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const work = mkdtempSync(join(tmpdir(), "diffill-vscode-e2e-"));
const userData = join(work, "user-data");
const extensions = join(work, "extensions");
const workspace = join(work, "workspace");
const file = join(workspace, "add.py");
mkdirSync(join(userData, "Machine"), { recursive: true });
mkdirSync(join(userData, "User"), { recursive: true });
mkdirSync(workspace, { recursive: true });
mkdirSync(ARTIFACTS, { recursive: true });
writeFileSync(file, SOURCE);
const slowFile = join(workspace, "mul.py");
writeFileSync(slowFile, SLOW);
const partialFile = join(workspace, "sub.py");
writeFileSync(partialFile, PARTIAL);
const realFiles = Object.fromEntries(
  ["accepted", "rejected", "cancelled"].map((name) => [name, join(workspace, `${name}.py`)]),
);
for (const path of Object.values(realFiles)) {
  writeFileSync(path, SHAPES);
}
const serverCommand =
  SCENARIO === "real"
    ? [PYTHON, "-m", "diffill.server.cli", "serve"]
    : [PYTHON, "-m", "tests.lsp_harness", "--model", "scripted"];
const settings = JSON.stringify(
  {
    "diffill.server.command": serverCommand,
    "diffill.trace.server": "messages",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "security.workspace.trust.enabled": false,
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "extensions.ignoreRecommendations": true,
    "update.mode": "none",
    "telemetry.telemetryLevel": "off",
    "chat.disableAIFeatures": true,
    "files.autoSave": "off",
  },
  null,
  2,
);
// code-server is VS Code's remote setup: settings scoped to the machine (the server command)
// are read from the remote ("Machine") settings only, the rest from the user's too.
writeFileSync(join(userData, "Machine", "settings.json"), settings);
writeFileSync(join(userData, "User", "settings.json"), settings);
writeFileSync(join(work, "config.yaml"), "auth: none\ncert: false\n");

const codeServerArgs = [
  CODE_SERVER,
  "--config", join(work, "config.yaml"),
  "--user-data-dir", userData,
  "--extensions-dir", extensions,
  "--disable-telemetry",
  "--disable-update-check",
  "--disable-workspace-trust",
  "--disable-getting-started-override",
  "--ignore-last-opened",
];
const childEnv = {
  ...process.env,
  PYTHONPATH: REPO, // the stand-in server is tests/lsp_harness.py
  XDG_CONFIG_HOME: join(work, "config"),
  XDG_DATA_HOME: join(work, "data"),
};

let codeServer;
let browser;
let page;
let failed = false;
try {
  const install = spawnSync(NODE24, [...codeServerArgs, "--install-extension", VSIX], {
    env: childEnv,
    encoding: "utf8",
  });
  if (install.status !== 0 || !/was successfully installed/.test(install.stdout)) {
    throw new Error(`--install-extension failed:\n${install.stdout}\n${install.stderr}`);
  }
  mark("extension installed");

  const port = await freePort();
  codeServer = spawn(
    NODE24,
    [...codeServerArgs, "--bind-addr", `127.0.0.1:${port}`, workspace],
    { env: childEnv, cwd: REPO, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  codeServer.stdout.on("data", (d) => (log += d));
  codeServer.stderr.on("data", (d) => (log += d));
  await until("code-server to listen", () => /HTTP server listening/.test(log) || codeServer.exitCode !== null);
  if (codeServer.exitCode !== null) {
    throw new Error(`code-server exited ${codeServer.exitCode}:\n${log}`);
  }
  mark("code-server listening");

  const { chromium } = createRequire(join(PLAYWRIGHT, "package.json"))("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator(".monaco-workbench").waitFor();
  mark("workbench loaded");

  const command = async (title) => {
    await page.keyboard.press("F1");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor();
    await input.fill(`>${title}`);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
    await page.keyboard.press("Enter");
  };

  // Through Quick Open, like a person would.
  const open = async (name, text) => {
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor();
    await input.fill(name);
    await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor();
    await page.keyboard.press("Enter");
    await page.locator(".editor-instance .monaco-editor .view-lines", { hasText: text }).waitFor();
  };
  // Decorations draw their text with CSS (::after), not in the DOM text: read it from there.
  const decorations = () =>
    page.evaluate(() => {
      const found = { after: [], struck: [] };
      for (const span of document.querySelectorAll(".editor-instance .view-lines span")) {
        const content = getComputedStyle(span, "::after").content;
        if (content && content !== "none" && content !== "normal") {
          found.after.push(content);
        }
        if (getComputedStyle(span).textDecorationLine.includes("line-through")) {
          found.struck.push(span.textContent);
        }
      }
      return found;
    });
  const decorated = (what, test) =>
    until(what, async () => test(await decorations()), TIMEOUT_MS);

  async function standInScenario() {
    await open("add.py", "def add");
    mark("add.py open");

    // The status bar item appears when the extension starts, then names the model.
    await page.locator(".statusbar-item", { hasText: "diffill: stand-in · cpu" }).waitFor();
    mark("server ready");

    await command("Go to Line/Column");
    await page.keyboard.type("5:7");
    await page.keyboard.press("Enter");
    await command("diffill: Fill placeholder");
    const accept = page.locator(".codelens-decoration", { hasText: "Accept" });
    await accept.waitFor();
    await decorated("the proposal's decorations", (d) =>
      d.after.some((c) => c.includes("return a + b")) && d.struck.join("").includes("pass"),
    );
    await page.screenshot({ path: join(ARTIFACTS, "proposal.png") });
    mark("proposal shown");
    if (readFileSync(file, "utf8") !== SOURCE) {
      throw new Error("the proposal changed the file before it was accepted");
    }

    await command("diffill: Accept proposal");
    await accept.waitFor({ state: "detached" });
    await page.keyboard.press("Control+S");
    const onDisk = await until("the filled file on disk", () => {
      const text = readFileSync(file, "utf8");
      return text === SOURCE ? false : text;
    });
    if (onDisk !== EXPECTED) {
      throw new Error(`the file on disk is\n${JSON.stringify(onDisk)}\nnot\n${JSON.stringify(EXPECTED)}`);
    }
    mark("filled file saved");

    // The live preview, then cancel: the preview goes and the file stays as it was.
    await open("mul.py", "def mul");
    await command("Go to Line/Column");
    await page.keyboard.type("6:5");
    await page.keyboard.press("Enter");
    await command("diffill: Fill placeholder");
    await decorated("the live preview", (d) => d.after.some((c) => c.includes("⟳ diffill")));
    await page.screenshot({ path: join(ARTIFACTS, "preview.png") });
    mark("preview shown");
    await command("diffill: Cancel the running request");
    await decorated("the preview to clear", (d) => !d.after.some((c) => c.includes("⟳ diffill")));
    if ((await page.locator(".codelens-decoration", { hasText: "Accept" }).count()) !== 0) {
      throw new Error("a cancelled request left a proposal");
    }
    await page.keyboard.press("Control+S");
    if (readFileSync(slowFile, "utf8") !== SLOW) {
      throw new Error("cancelling changed the file");
    }
    mark("cancelled");

    // Inline completion: the server's item as ghost text, accepted with Tab.
    await open("sub.py", "def sub");
    await command("Go to Line/Column");
    await page.keyboard.type("3:12");
    await page.keyboard.press("Enter");
    await command("Trigger Inline Suggestion");
    await page.locator(".ghost-text-decoration, .ghost-text").first().waitFor();
    await page.keyboard.press("Tab");
    await page.keyboard.press("Control+S");
    const completed = await until("the completed file on disk", () => {
      const text = readFileSync(partialFile, "utf8");
      return text === PARTIAL ? false : text;
    });
    if (completed !== COMPLETED) {
      throw new Error(`the completed file is\n${JSON.stringify(completed)}\nnot\n${JSON.stringify(COMPLETED)}`);
    }
    mark("inline completion accepted");
  }

  async function realScenario() {
    const parses = (path) =>
      spawnSync(PYTHON, ["-c", "import ast, sys; ast.parse(open(sys.argv[1], encoding='utf-8').read())", path])
        .status === 0;
    const lens = () => page.locator(".codelens-decoration", { hasText: "Accept" });
    const chord = async (key) => {
      await page.keyboard.press("Control+Alt+D");
      await page.keyboard.press(key);
    };
    const fillAt = async (name, where) => {
      await open(name, "class Circle");
      await command("Go to Line/Column");
      await page.keyboard.type(where);
      await page.keyboard.press("Enter");
      await chord("F"); // diffill: Fill placeholder
    };

    await open("accepted.py", "class Circle");
    // The status bar names the model once it has loaded (shipped model, cpu).
    await page.locator(".statusbar-item", { hasText: /diffill: .+ · cpu/ }).waitFor();
    mark("server ready, model loaded");

    await fillAt("accepted.py", SHAPES_PASS);
    await lens().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, "real-proposal.png") });
    mark("proposal shown");
    if (readFileSync(realFiles.accepted, "utf8") !== SHAPES) {
      throw new Error("the proposal changed the file before it was accepted");
    }
    await command("diffill: Accept proposal");
    await lens().waitFor({ state: "detached" });
    await page.keyboard.press("Control+S");
    const accepted = await until("the filled file on disk", () => {
      const text = readFileSync(realFiles.accepted, "utf8");
      return text === SHAPES ? false : text;
    });
    if (!parses(realFiles.accepted)) {
      throw new Error(`the accepted file does not parse:\n${accepted}`);
    }
    mark("accepted file saved and parses");

    await fillAt("rejected.py", SHAPES_PASS);
    await lens().waitFor();
    await command("diffill: Reject proposal");
    await lens().waitFor({ state: "detached" });
    await page.keyboard.press("Control+S");
    if (readFileSync(realFiles.rejected, "utf8") !== SHAPES) {
      throw new Error("rejecting changed the file");
    }
    mark("rejected");

    await fillAt("cancelled.py", SHAPES_PASS);
    await chord("C"); // diffill: Cancel the running request, at once (the model takes seconds)
    await decorated("the preview to clear", (d) => !d.after.some((c) => c.includes("⟳ diffill")));
    if ((await lens().count()) !== 0) {
      throw new Error("a cancelled fill left a proposal (did the model finish before the cancel?)");
    }
    await page.keyboard.press("Control+S");
    if (readFileSync(realFiles.cancelled, "utf8") !== SHAPES) {
      throw new Error("cancelling changed the file");
    }
    mark("cancelled");
  }

  if (SCENARIO === "real") {
    await realScenario();
  } else {
    await standInScenario();
  }
  console.log(`[e2e] ok ${JSON.stringify(timings)}`);
} catch (error) {
  failed = true;
  console.error(`[e2e] FAILED: ${error?.stack ?? error}`);
  if (page) {
    const shot = join(ARTIFACTS, "failure.png");
    await page.screenshot({ path: shot }).catch(() => {});
    console.error(`[e2e] screenshot: ${shot}`);
  }
} finally {
  await browser?.close().catch(() => {});
  if (codeServer && codeServer.exitCode === null) {
    try {
      process.kill(-codeServer.pid, "SIGTERM"); // its process group: the extension host and server too
    } catch {
      // already gone
    }
  }
  if (!failed || !process.env.DIFFILL_E2E_KEEP) {
    rmSync(work, { recursive: true, force: true });
  } else {
    console.error(`[e2e] kept ${work}`);
  }
}
process.exit(failed ? 1 : 0);
