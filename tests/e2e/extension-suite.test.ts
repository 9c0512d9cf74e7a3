/**
 * The extension's own test suite (tests/extension/, compiled to dist/tests/extension/index.js) run in a real
 * VS Code extension host: code-server's VS Code server with chromium as the window, through
 * run-extension-suite.ts — what @vscode/test-electron's runTests does where VS Code can be downloaded. The
 * extension under test is the repository itself (package.json is the manifest). The window opens a
 * workspace with the fixture image and settings for the tiny random-weight model; the suite also gets their
 * paths in its environment (tests/e2e/README.md lists the variables).
 *
 * Skipped (with the reason) where code-server is not installed and CI is not set; in CI it fails instead,
 * also while the suite or the extension's build is missing.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { testArtifactsDir } from "./artifacts";
import { e2eSkipReason } from "./code-server-install";
import { runExtensionSuite } from "./run-extension-suite";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

const skip = e2eSkipReason();

/** The suite's entry module, as tsc emits tests/extension/index.ts. */
export const extensionSuiteEntry = join(repoRoot(), "dist", "tests", "extension", "index.js");

/** The extension's entry point (package.json `main`), or why it cannot be loaded. */
function extensionMain(): { path?: string; problem?: string } {
  const manifest = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { main?: string };
  if (manifest.main === undefined) return { problem: "package.json has no \"main\": the extension's entry point (issue 5, Task E) is missing" };
  const path = resolve(repoRoot(), manifest.main);
  const candidates = [path, `${path}.js`];
  return candidates.some((candidate) => existsSync(candidate))
    ? { path }
    : { problem: `package.json's main ${manifest.main} does not exist: build the extension first (npm run build)` };
}

/** The untrusted-workspace suite's entry (tests/extension/untrusted.ts). */
export const untrustedSuiteEntry = join(repoRoot(), "dist", "tests", "extension", "untrusted.js");

/**
 * Runs one suite entry in a fresh workspace holding the fixture image, whose settings point molmo.model.path at
 * a tiny bundle; with `workspaceTrust` the window opens it in Restricted Mode.
 */
async function runSuite(t: TestContext, entry: string, label: string, workspaceTrust: boolean): Promise<void> {
  assert.ok(existsSync(entry), `the extension test suite ${entry} does not exist: tests/extension/ (issue 5, Task E) is missing or not built`);
  const main = extensionMain();
  assert.equal(main.problem, undefined, main.problem);

  const workspace = mkdtempSync(join(tmpdir(), "molmo-e2e-suite-"));
  const image = join(workspace, "image.png");
  const modelPath = makeTinyBundle();
  copyFileSync(join(tinyMolmoDir(), "image.png"), image);
  mkdirSync(join(workspace, ".vscode"));
  writeFileSync(
    join(workspace, ".vscode", "settings.json"),
    JSON.stringify({ "molmo.model.path": modelPath, "molmo.executionProvider": "cpu" }, null, 2),
  );
  const logsDir = testArtifactsDir(label);
  try {
    const result = await runExtensionSuite({
      extensionDevelopmentPath: repoRoot(),
      extensionTestsPath: entry,
      workspace,
      env: { MOLMO_TEST_WORKSPACE: workspace, MOLMO_TEST_IMAGE: image, MOLMO_TEST_MODEL_PATH: modelPath },
      ...(workspaceTrust ? { server: { workspaceTrust: true } } : {}),
      timeoutMs: 90_000,
      logsDir,
      // The suite's own result lines (tests/extension/suite/runner.ts prints "# suite", "ok …", "not ok …").
      onOutput: (line) => {
        const result = /^\[(?:info|error)\]\s+((?:#|ok|not ok) .*)$/.exec(line);
        if (result !== null) t.diagnostic(result[1]);
      },
    });
    t.diagnostic(`suite finished in ${result.durationMs} ms with exit code ${result.exitCode}`);
    assert.equal(result.exitCode, 0, `the extension suite failed (logs in ${logsDir}):\n${result.output}`);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

void test("the extension's test suite passes in a real VS Code extension host", { skip, timeout: 120_000 }, async (t) => {
  await runSuite(t, extensionSuiteEntry, "e2e-extension-suite", false);
});

void test("in Restricted Mode the extension ignores the workspace's model setting and still activates", { skip, timeout: 120_000 }, async (t) => {
  await runSuite(t, untrustedSuiteEntry, "e2e-extension-untrusted", true);
});
