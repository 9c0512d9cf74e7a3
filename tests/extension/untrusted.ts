/**
 * The Restricted Mode suite's entry (dist/tests/extension/untrusted.js): run it like index.js, but with
 * workspace trust on (tests/e2e/run-extension-suite.ts `server: { workspaceTrust: true }`), a workspace
 * whose .vscode/settings.json sets molmo.model.path, and MOLMO_TEST_MODEL_PATH naming a tiny bundle.
 */
import { runSuites } from "./suite/runner";
import { untrustedSuite } from "./suite/untrusted.suite";

/** Runs the Restricted Mode suite; rejects when a test failed. */
export function run(): Promise<void> {
  return runSuites([untrustedSuite]);
}
