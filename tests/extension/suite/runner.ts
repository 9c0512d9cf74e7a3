/**
 * A tiny test runner for the extension host (no mocha there): named async tests run one after another,
 * each with a time limit, results printed to the console (which the harness relays), and a rejection at the
 * end when any failed — `run()` rejecting is how a suite reports failure to test-electron and to
 * tests/e2e/run-extension-suite.ts alike.
 */

/** One test: a name and a body that throws (an AssertionError) on failure. */
export interface ExtensionTest {
  readonly name: string;
  readonly timeoutMs?: number;
  readonly body: () => Promise<void> | void;
}

/** A named group of tests, run in order (later tests may rely on earlier ones, e.g. activation first). */
export interface ExtensionSuite {
  readonly name: string;
  readonly tests: readonly ExtensionTest[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

function withTimeout(promise: Promise<void>, ms: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`"${name}" did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the suites; rejects naming the failed tests. */
export async function runSuites(suites: readonly ExtensionSuite[]): Promise<void> {
  const failures: string[] = [];
  let passed = 0;
  for (const suite of suites) {
    console.log(`# ${suite.name}`);
    for (const test of suite.tests) {
      const started = performance.now();
      try {
        await withTimeout(Promise.resolve().then(test.body), test.timeoutMs ?? DEFAULT_TIMEOUT_MS, test.name);
        passed += 1;
        console.log(`  ok ${test.name} (${(performance.now() - started).toFixed(0)} ms)`);
      } catch (error) {
        failures.push(`${suite.name} › ${test.name}`);
        console.error(`  not ok ${test.name} (${(performance.now() - started).toFixed(0)} ms)`);
        console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
    }
  }
  console.log(`# extension tests: ${passed} passed, ${failures.length} failed`);
  if (failures.length > 0) {
    throw new Error(`${failures.length} extension test(s) failed: ${failures.join("; ")}`);
  }
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` saying `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
