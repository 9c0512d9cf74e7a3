/**
 * Where tests/e2e/install-code-server.sh put code-server, and whether the end-to-end tests can run here.
 * The install folder lives outside the repository (it is ~300 MB), in `$MOLMO_E2E_CACHE` or
 * `~/.cache/molmo-e2e`.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { E2eHarnessError } from "./e2e-error";
import { repoRoot } from "../helpers/repo-root";

/** The code-server release the harness is written for: the last one that runs on Node 20 (VS Code 1.100). */
export const codeServerVersion = "4.100.3";

/** Debian's chromium, which playwright-core drives (playwright's own browser download is not reachable). */
export const chromiumPath = process.env.MOLMO_E2E_CHROMIUM ?? "/usr/bin/chromium";

/** The paths of one code-server install. */
export interface CodeServerInstall {
  /** The folder install-code-server.sh installed into. */
  dir: string;
  /** The bundled VS Code server, started with `node server-main.js ...`. */
  serverMain: string;
}

/** The install script, as a path relative to the repository root (for messages). */
export const installScript = "tests/e2e/install-code-server.sh";

/** The folder install-code-server.sh installs into (whether or not it exists). */
export function codeServerInstallDir(): string {
  const cacheRoot = process.env.MOLMO_E2E_CACHE ?? join(homedir(), ".cache", "molmo-e2e");
  return join(cacheRoot, `code-server-${codeServerVersion}`);
}

/** The installed code-server, or undefined when install-code-server.sh has not run here. */
export function findCodeServer(): CodeServerInstall | undefined {
  const dir = codeServerInstallDir();
  const serverMain = join(dir, "node_modules", "code-server", "lib", "vscode", "out", "server-main.js");
  return existsSync(serverMain) ? { dir, serverMain } : undefined;
}

/** The installed code-server; a clear error naming the install script when it is missing. */
export function requireCodeServer(): CodeServerInstall {
  const install = findCodeServer();
  if (install === undefined) {
    throw new E2eHarnessError(
      "CODE_SERVER_MISSING",
      `code-server ${codeServerVersion} is not installed in ${codeServerInstallDir()}: run ${installScript} (about 1 minute; npm registry only)`,
    );
  }
  if (!existsSync(chromiumPath)) {
    throw new E2eHarnessError("CHROMIUM_MISSING", `no chromium at ${chromiumPath}: apt-get install -y chromium (or set MOLMO_E2E_CHROMIUM)`);
  }
  return install;
}

/**
 * Why the end-to-end tests should be skipped here, or undefined when they must run. They are skipped
 * only outside CI when code-server or chromium is missing; in CI (`CI` set) a missing install is a
 * failure, reported by {@link requireCodeServer} in the test itself.
 */
export function e2eSkipReason(): string | undefined {
  if (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false") return undefined;
  if (findCodeServer() === undefined) {
    return `code-server ${codeServerVersion} is not installed (${codeServerInstallDir()}): run ${join(repoRoot(), installScript)} to run the end-to-end tests`;
  }
  if (!existsSync(chromiumPath)) return `no chromium at ${chromiumPath} (apt-get install -y chromium) to run the end-to-end tests`;
  return undefined;
}
