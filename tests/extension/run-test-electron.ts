/**
 * Runs the extension-host suite (dist/tests/extension/index.js) in a desktop VS Code with
 * @vscode/test-electron, on machines that can download VS Code (or that have one: set
 * MOLMO_VSCODE_EXECUTABLE to its executable). The build and CI machines of this project cannot reach
 * Microsoft's update server; there the same suite runs through tests/e2e/run-extension-suite.ts instead
 * (code-server's VS Code server + chromium), and this runner says clearly that it skipped.
 *
 *   npm run build && node dist/tests/extension/run-test-electron.js [--version 1.100.3] [--require]
 *
 * Exit codes: 0 passed, 1 failed, 0 skipped (printed as "SKIPPED: ..."), or 2 skipped with `--require`.
 * The window opens a temporary workspace with the fixture image and settings for the tiny model, as the
 * code-server harness does, and the suite gets the same MOLMO_TEST_* variables.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadAndUnzipVSCode, runTests } from "@vscode/test-electron";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

/** VS Code's version the extension targets (engines.vscode ^1.100.0; what code-server 4.100.3 carries). */
const DEFAULT_VERSION = "1.100.3";

/** Idle timeout of the download: offline machines fail fast (DNS), slow ones still get their download. */
const DOWNLOAD_IDLE_TIMEOUT_MS = 15_000;

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** A VS Code executable: the given one, or a downloaded one; undefined (with the reason) when neither. */
async function vscodeExecutable(version: string): Promise<{ path?: string; skipReason?: string }> {
  const given = process.env.MOLMO_VSCODE_EXECUTABLE;
  if (given !== undefined && given !== "") {
    return { path: given };
  }
  try {
    return { path: await downloadAndUnzipVSCode({ version, timeout: DOWNLOAD_IDLE_TIMEOUT_MS }) };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { skipReason: `VS Code ${version} cannot be downloaded here (${reason}); set MOLMO_VSCODE_EXECUTABLE to a local VS Code, or run the suite with tests/e2e/extension-suite.test.ts` };
  }
}

async function main(): Promise<number> {
  const version = argument("--version") ?? DEFAULT_VERSION;
  const executable = await vscodeExecutable(version);
  if (executable.path === undefined) {
    console.log(`SKIPPED: the @vscode/test-electron run of the extension suite: ${executable.skipReason ?? "no VS Code"}`);
    return process.argv.includes("--require") ? 2 : 0;
  }
  const root = repoRoot();
  const workspace = mkdtempSync(join(tmpdir(), "molmo-test-electron-"));
  const userData = mkdtempSync(join(tmpdir(), "molmo-test-electron-user-"));
  try {
    const image = join(workspace, "image.png");
    copyFileSync(join(tinyMolmoDir(), "image.png"), image);
    const modelPath = makeTinyBundle();
    mkdirSync(join(workspace, ".vscode"));
    writeFileSync(join(workspace, ".vscode", "settings.json"), JSON.stringify({ "molmo.model.path": modelPath, "molmo.executionProvider": "cpu" }, null, 2));
    await runTests({
      vscodeExecutablePath: executable.path,
      extensionDevelopmentPath: root,
      extensionTestsPath: join(root, "dist", "tests", "extension", "index.js"),
      launchArgs: [workspace, "--disable-extensions", "--disable-workspace-trust", "--skip-welcome", "--skip-release-notes", `--user-data-dir=${userData}`],
      extensionTestsEnv: { MOLMO_TEST_WORKSPACE: workspace, MOLMO_TEST_IMAGE: image, MOLMO_TEST_MODEL_PATH: modelPath },
    });
    console.log("the extension suite passed in VS Code (test-electron)");
    return 0;
  } catch (error) {
    console.error(`the extension suite failed in VS Code (test-electron): ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
    rmSync(userData, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
