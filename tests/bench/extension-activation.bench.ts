/**
 * Issue 5's activation benchmark: how long the extension takes to activate in a real VS Code (code-server's
 * VS Code server 1.100.3 with Debian's chromium as the window, tests/e2e/), cold, once per fresh window.
 * Target: activate() under 50 ms (molmo-server starts lazily, on the first question).
 *
 *   npm run build && node dist/tests/bench/extension-activation.bench.js [--runs 5]
 *
 * Prints, per run and as medians: activate() itself (the extension's own clock, `api.activationMs`) and
 * module load + VS Code's activation + activate() as the suite sees it. Needs code-server
 * (tests/e2e/install-code-server.sh) and chromium.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { e2eSkipReason } from "../e2e/code-server-install";
import { runExtensionSuite } from "../e2e/run-extension-suite";
import { repoRoot } from "../helpers/repo-root";
import { median } from "./bench-inputs";

const TARGET_MS = 50;

async function main(): Promise<void> {
  const runsArgument = process.argv.indexOf("--runs");
  const runs = runsArgument >= 0 ? Number(process.argv[runsArgument + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs expects a whole number of 1 or more, got ${process.argv[runsArgument + 1]}`);
  }
  const skip = e2eSkipReason();
  if (skip !== undefined && process.env.CI === undefined) {
    throw new Error(`cannot run: ${skip}`);
  }
  const activate: number[] = [];
  const loadAndActivate: number[] = [];
  for (let run = 1; run <= runs; run += 1) {
    const workspace = mkdtempSync(join(tmpdir(), "molmo-bench-activation-"));
    try {
      const result = await runExtensionSuite({
        extensionDevelopmentPath: repoRoot(),
        extensionTestsPath: join(repoRoot(), "dist", "tests", "extension", "activation-only.js"),
        workspace,
        timeoutMs: 90_000,
      });
      const line = /activation: activate\(\) ([\d.]+) ms; module load \+ activate\(\) ([\d.]+) ms/.exec(result.output);
      if (result.exitCode !== 0 || line === null) {
        throw new Error(`run ${run}: the activation suite did not report a cold activation (exit ${result.exitCode}):\n${result.output.slice(-2000)}`);
      }
      activate.push(Number(line[1]));
      loadAndActivate.push(Number(line[2]));
      process.stdout.write(`run ${run}: activate() ${line[1]} ms, module load + activation ${line[2]} ms\n`);
    } finally {
      rmSync(workspace, { recursive: true, force: true });
    }
  }
  const activateMedian = median(activate);
  process.stdout.write(
    `\nactivate(): median ${activateMedian.toFixed(1)} ms over ${runs} cold windows (target < ${TARGET_MS} ms: ${activateMedian < TARGET_MS ? "met" : "NOT met"})\n` +
      `module load + VS Code's activation + activate(): median ${median(loadAndActivate).toFixed(1)} ms\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`extension-activation bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
