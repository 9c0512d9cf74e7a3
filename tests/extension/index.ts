/**
 * The extension-host test suite's entry: `run()` is what VS Code calls for `--extensionTestsPath`
 * (compiled to dist/tests/extension/index.js). It runs in a real extension host, started either by
 * tests/e2e/run-extension-suite.ts (code-server's VS Code server + chromium: here and in CI) or by
 * run-test-electron.ts (a downloaded VS Code, where that is possible). extension/README.md says how.
 */
import { activationSuite } from "./suite/activation.suite";
import { askSuite } from "./suite/ask.suite";
import { markdownSuite } from "./suite/markdown.suite";
import { runSuites } from "./suite/runner";

/** Runs every suite; rejects when a test failed. Activation goes first: it measures a cold activation. */
export function run(): Promise<void> {
  return runSuites([activationSuite, askSuite, markdownSuite]);
}
