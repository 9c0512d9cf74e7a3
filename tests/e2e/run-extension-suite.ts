/**
 * Runs an extension test suite the way @vscode/test-electron's runTests does, but in the VS Code server
 * bundled in code-server with Debian's chromium as the window (Microsoft's Electron build cannot be
 * downloaded here): the workbench opens `extensionDevelopmentPath` as the extension under development,
 * loads `extensionTestsPath` in the Node extension host and calls its `run()`; when that settles the
 * workbench reports the exit code through `window.codeAutomationExit`, which this harness exposes. The
 * same suite file serves test-electron where VS Code can be downloaded.
 *
 * Usage from a test:
 *
 *   const result = await runExtensionSuite({ extensionDevelopmentPath: repoRoot(), extensionTestsPath: ".../index.js" });
 *   assert.equal(result.exitCode, 0, result.output);
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchBrowser, type E2eBrowser } from "./browser";
import { E2eHarnessError } from "./e2e-error";
import { startVsCodeServer, type VsCodeServer, type VsCodeServerOptions } from "./vscode-server";

/** What to run. */
export interface ExtensionSuiteOptions {
  /** The folder holding the extension's package.json (the manifest). */
  extensionDevelopmentPath: string;
  /** The suite's entry module (exports `run(): Promise<void>`), e.g. dist/tests/extension/index.js. */
  extensionTestsPath: string;
  /** The folder the window opens; a fresh empty one when left out. */
  workspace?: string;
  /** Environment variables for the extension host (and the server). */
  env?: NodeJS.ProcessEnv;
  /** Server options (workspace trust, user settings, VSIX files to install). */
  server?: Omit<VsCodeServerOptions, "env">;
  /** How long the whole run may take, server start included, in ms (default 60 s). */
  timeoutMs?: number;
  /** Receives the extension host's output line by line as it comes (default: none; it is in the result). */
  onOutput?: (line: string) => void;
  /** A folder to write the workbench's and the extension hosts' logs into when the suite fails or times out. */
  logsDir?: string;
}

/** How the run ended. */
export interface ExtensionSuiteResult {
  /** The suite's exit code: 0 when run() resolved, 1 when it rejected. */
  exitCode: number;
  /** The extension host's output (console.* of the suite and the extension) and the server's. */
  output: string;
  /** Milliseconds from server start to the exit code. */
  durationMs: number;
}

/** One log file the workbench hands to codeAutomationExit. */
interface WorkbenchLog {
  relativePath: string;
  contents: string;
}

/** The URL that opens `workspace` with the extension under development and the suite to run. */
export function extensionTestUrl(server: VsCodeServer, options: { extensionDevelopmentPath: string; extensionTestsPath: string; workspace: string }): string {
  const payload = [
    ["extensionDevelopmentPath", server.remoteUri(options.extensionDevelopmentPath)],
    ["extensionTestsPath", server.remoteUri(options.extensionTestsPath)],
    ["skipWelcome", "true"],
    ["skipReleaseNotes", "true"],
  ];
  return `${server.origin}/?folder=${encodeURIComponent(options.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** A codeAutomationLog message: the console call's arguments, as an array of strings or JSON values. */
function formatLogMessage(message: unknown): string {
  if (typeof message === "string") return message;
  if (Array.isArray(message)) return message.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ");
  return JSON.stringify(message);
}

function writeLogs(dir: string | undefined, logs: WorkbenchLog[]): void {
  if (dir === undefined) return;
  for (const log of logs) {
    writeFileSync(join(dir, log.relativePath.replace(/[\\/]/g, "__")), log.contents);
  }
}

/**
 * Starts a server and a browser, runs the suite, and resolves with its exit code once the workbench
 * reports it. Rejects with E2eHarnessError code SUITE_TIMEOUT (the output so far in the message) when no
 * exit code comes in time. The server's process group and the browser are gone when this settles.
 */
export async function runExtensionSuite(options: ExtensionSuiteOptions): Promise<ExtensionSuiteResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const emptyWorkspace = options.workspace === undefined ? mkdtempSync(join(tmpdir(), "molmo-e2e-workspace-")) : undefined;
  const workspace = options.workspace ?? emptyWorkspace!;
  let output = "";
  const record = (text: string): void => {
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      output += `${line}\n`;
      options.onOutput?.(line);
    }
  };

  let server: VsCodeServer | undefined;
  let browser: E2eBrowser | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    server = await startVsCodeServer({ ...options.server, env: options.env, startTimeoutMs: timeoutMs });
    browser = await launchBrowser(join(server.dirs.home, "chromium"));
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());

    let reportExit: (result: { code: number; logs: WorkbenchLog[] }) => void = () => undefined;
    const exitReported = new Promise<{ code: number; logs: WorkbenchLog[] }>((resolve) => {
      reportExit = resolve;
    });
    await page.exposeFunction("codeAutomationExit", (code: number, logs?: WorkbenchLog[]) => {
      reportExit({ code, logs: logs ?? [] });
    });
    // With the smoke-test driver on, the workbench's log goes here, and in an extension test run that
    // includes the extension host's console (the suite's and the extension's console.* calls). The
    // page's console repeats the same lines, so only uncaught page errors are taken from the page.
    await page.exposeFunction("codeAutomationLog", (level: string, message: unknown) => {
      record(`[${level}] ${formatLogMessage(message)}`);
    });
    page.on("pageerror", (error) => record(`[page error] ${error.message}`));

    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new E2eHarnessError(
            "SUITE_TIMEOUT",
            `the extension test suite ${options.extensionTestsPath} reported no exit code within ${timeoutMs} ms; output so far:\n${output}\n--- server ---\n${server?.output() ?? ""}`,
          ),
        );
      }, Math.max(1, timeoutMs - (Date.now() - started)));
    });
    await Promise.race([page.goto(extensionTestUrl(server, { ...options, workspace }), { waitUntil: "domcontentloaded" }), timedOut]);
    const { code, logs } = await Promise.race([exitReported, timedOut]);
    if (code !== 0 && options.logsDir !== undefined) {
      writeLogs(options.logsDir, logs);
      server.saveLogs(options.logsDir);
    }
    return { exitCode: code, output: `${output}--- server ---\n${server.output()}`, durationMs: Date.now() - started };
  } catch (error) {
    if (options.logsDir !== undefined) server?.saveLogs(options.logsDir);
    throw error;
  } finally {
    clearTimeout(timer);
    await browser?.close();
    await server?.stop();
    if (emptyWorkspace !== undefined) rmSync(emptyWorkspace, { recursive: true, force: true });
  }
}
