// Builds the extension into one bundle (dist/extension.js), or, with --tests, each unit test
// into out/test/ for node's test runner. `vscode` is the host's module, never bundled; the
// unit tests import only modules that do not need it.
import { build, context } from "esbuild";
import { readdirSync } from "node:fs";

const args = new Set(process.argv.slice(2));
const production = args.has("--production");

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: production ? false : "linked",
  logLevel: "warning",
};

if (args.has("--tests")) {
  const tests = readdirSync("test")
    .filter((name) => name.endsWith(".test.ts"))
    .map((name) => `test/${name}`);
  // No `external: ["vscode"]`: a test that reaches it fails the build instead of at run time.
  await build({ ...common, entryPoints: tests, outdir: "out/test" });
} else {
  const options = {
    ...common,
    entryPoints: ["src/extension.ts"],
    outfile: "dist/extension.js",
    external: ["vscode"],
    minify: production,
  };
  if (args.has("--watch")) {
    await (await context(options)).watch();
  } else {
    await build(options);
  }
}
