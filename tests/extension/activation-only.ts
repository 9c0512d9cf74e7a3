/**
 * An entry that runs only the activation suite (dist/tests/extension/activation-only.js), for
 * tests/bench/extension-activation.bench.ts: a cold activation per window, without the slower suites after it.
 */
import { activationSuite } from "./suite/activation.suite";
import { runSuites } from "./suite/runner";

/** Runs the activation suite; rejects when a test failed. */
export function run(): Promise<void> {
  return runSuites([activationSuite]);
}
