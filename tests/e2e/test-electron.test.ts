/**
 * The extension's suite through @vscode/test-electron (tests/extension/run-test-electron.ts), as on machines
 * that can download VS Code's desktop build. Where the download is unreachable (these build and CI machines)
 * the runner says SKIPPED with the reason, and this test is reported as skipped with that reason, so a CI log
 * shows plainly that the Electron path did not run; the same suite runs in a real extension host through
 * extension-suite.test.ts instead.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/repo-root";

const runner = join(repoRoot(), "dist", "tests", "extension", "run-test-electron.js");

void test("the extension's suite in desktop VS Code through @vscode/test-electron", { timeout: 240_000 }, async (t) => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [runner], { cwd: repoRoot(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (exitCode) => resolve({ code: exitCode, output }));
  });
  const skipped = /^SKIPPED: (.*)$/m.exec(output);
  if (skipped !== null) {
    assert.equal(code, 0, `a skipping runner exits 0:\n${output}`);
    t.skip(`test-electron: ${skipped[1]}`);
    return;
  }
  assert.equal(code, 0, `the suite failed in desktop VS Code:\n${output}`);
});
