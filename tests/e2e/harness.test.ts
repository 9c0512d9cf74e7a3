/**
 * The end-to-end harness tested on itself: a throwaway extension (tests/e2e/probe-extension.ts) run in
 * the real VS Code server through run-extension-suite.ts. A passing suite must give exit code 0 with its
 * console output relayed, a failing one a non-zero code, a hanging one a clear timeout error; after each
 * run the extension host process must be gone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { e2eSkipReason } from "./code-server-install";
import { E2eHarnessError } from "./e2e-error";
import { writeProbeExtension } from "./probe-extension";
import { runExtensionSuite } from "./run-extension-suite";

const skip = e2eSkipReason();
const probe = writeProbeExtension();
test.after(() => rmSync(dirname(probe.extensionPath), { recursive: true, force: true }));

/**
 * Whether a process still runs, waiting up to a second for a killed one to go. A zombie counts as gone:
 * it runs nothing, and whoever inherits an orphan (this machine's init) may reap it late.
 */
async function isRunning(pid: number): Promise<boolean> {
  for (let waited = 0; waited < 1_000; waited += 50) {
    let state: string;
    try {
      // /proc/<pid>/stat: "pid (comm) S ...", the state letter after the command in parentheses.
      state = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").charAt(0);
    } catch {
      return false;
    }
    if (state === "Z" || state === "X") return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The extension host's process id, as a probe suite printed it. */
function extensionHostPid(output: string): number {
  const match = /"extensionHostPid":(\d+)|hanging in extension host (\d+)/.exec(output);
  assert.ok(match !== null, `no extension host pid in the output:\n${output}`);
  return Number(match[1] ?? match[2]);
}

void test("a passing suite exits 0, its console output comes back, and its extension host is gone after", { skip, timeout: 60_000 }, async () => {
  const result = await runExtensionSuite({
    extensionDevelopmentPath: probe.extensionPath,
    extensionTestsPath: probe.passingSuite,
    workspace: probe.workspace,
    env: { MOLMO_E2E_MARKER: "from the harness" },
    server: { userSettings: { "molmoE2eProbe.greeting": "from the user settings" } },
  });
  assert.equal(result.exitCode, 0, result.output);
  assert.match(result.output, /probe suite passed/);
  assert.match(result.output, /"marker":"from the harness"/, "the environment reaches the extension host");
  assert.match(result.output, /"trusted":true/, "workspace trust is off by default");
  assert.match(result.output, /"greeting":"from the user settings"/, "the user settings reach the workbench");
  assert.equal(await isRunning(extensionHostPid(result.output)), false, "the extension host was killed with the server");
});

void test("a failing suite exits non-zero", { skip, timeout: 60_000 }, async () => {
  const result = await runExtensionSuite({
    extensionDevelopmentPath: probe.extensionPath,
    extensionTestsPath: probe.failingSuite,
    workspace: probe.workspace,
  });
  assert.notEqual(result.exitCode, 0, result.output);
  assert.match(result.output, /probe suite failed on purpose/);
});

void test("a suite that never settles times out with the output so far, and nothing is left running", { skip, timeout: 60_000 }, async () => {
  let output = "";
  await assert.rejects(
    runExtensionSuite({
      extensionDevelopmentPath: probe.extensionPath,
      extensionTestsPath: probe.hangingSuite,
      workspace: probe.workspace,
      timeoutMs: 15_000,
      onOutput: (line) => (output += `${line}\n`),
    }),
    (error: unknown) => {
      assert.ok(error instanceof E2eHarnessError, String(error));
      assert.equal(error.code, "SUITE_TIMEOUT");
      assert.match(error.message, /reported no exit code within 15000 ms/);
      assert.match(error.message, /probe suite hanging/);
      return true;
    },
  );
  assert.equal(await isRunning(extensionHostPid(output)), false, "the extension host was killed with the server");
});
