/**
 * The extension's VSIX for this platform (linux-x64) for the end-to-end UI test: `$MOLMO_E2E_VSIX` when set
 * (a VSIX built beforehand), else packed now by the project's `npm run package` script (issue 5) with
 * `--target <platform> --out <folder>`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { E2eHarnessError } from "./e2e-error";
import { repoRoot } from "../helpers/repo-root";

/** The VSIX target this machine runs (code-server's VS Code server computes the same: linux-x64). */
export const vsixTarget = `${process.platform}-${process.arch}`;

/**
 * The command that packs the VSIX without building first: package.json's "package" script less its leading
 * `npm run build &&` — the tests run after `npm test`'s build, and building again would cost a minute.
 */
export function packCommand(packageScript: string): string {
  return packageScript.replace(/^\s*npm run build\s*&&\s*/, "");
}

/**
 * The VSIX to install: `$MOLMO_E2E_VSIX`, or one packed now for this platform into a fresh folder (the
 * caller removes it with `cleanup`).
 */
export function obtainVsix(timeoutMs = 120_000): { file: string; cleanup(): void } {
  const given = process.env.MOLMO_E2E_VSIX;
  if (given !== undefined && given !== "") {
    if (!existsSync(given)) throw new E2eHarnessError("ARTIFACT_MISSING", `MOLMO_E2E_VSIX=${given} does not exist`);
    return { file: given, cleanup: () => undefined };
  }
  const manifest = JSON.parse(readFileSync(join(repoRoot(), "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const script = manifest.scripts?.package;
  if (script === undefined) {
    throw new E2eHarnessError(
      "ARTIFACT_MISSING",
      "package.json has no \"package\" script yet: the VSIX is built by `npm run package` (issue 5); or set MOLMO_E2E_VSIX to a built VSIX",
    );
  }
  const outDir = mkdtempSync(join(tmpdir(), "molmo-e2e-vsix-"));
  const cleanup = (): void => rmSync(outDir, { recursive: true, force: true });
  const command = `${packCommand(script)} --target ${vsixTarget} --out ${JSON.stringify(outDir)}`;
  const run = spawnSync("/bin/sh", ["-c", command], { cwd: repoRoot(), encoding: "utf8", timeout: timeoutMs });
  const output = `${run.stdout}${run.stderr}`;
  const vsixFiles = readdirSync(outDir).filter((name) => name.endsWith(".vsix"));
  if (run.status !== 0 || vsixFiles.length !== 1) {
    cleanup();
    throw new E2eHarnessError(
      "ARTIFACT_MISSING",
      `\`${command}\` (npm run package without its build step; run npm run build first) exited ${String(run.status ?? run.signal)} and wrote ${vsixFiles.length} VSIX files:\n${output}`,
    );
  }
  return { file: join(outDir, vsixFiles[0]), cleanup };
}
