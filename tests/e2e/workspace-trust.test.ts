/**
 * The harness's workspace-trust variant: with trust on, a folder opens in Restricted Mode without a
 * prompt, so extension suites can check what the extension does in an untrusted workspace (issue 5:
 * nothing from the workspace is executed there, asking about images still works).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { e2eSkipReason } from "./code-server-install";
import { writeProbeExtension } from "./probe-extension";
import { runExtensionSuite } from "./run-extension-suite";

const skip = e2eSkipReason();

void test("with workspace trust on, the folder opens untrusted and an extension that supports that still runs", { skip, timeout: 60_000 }, async () => {
  const probe = writeProbeExtension();
  try {
    const result = await runExtensionSuite({
      extensionDevelopmentPath: probe.extensionPath,
      extensionTestsPath: probe.passingSuite,
      workspace: probe.workspace,
      server: { workspaceTrust: true },
    });
    assert.equal(result.exitCode, 0, result.output);
    assert.match(result.output, /"trusted":false/);
  } finally {
    rmSync(dirname(probe.extensionPath), { recursive: true, force: true });
  }
});
