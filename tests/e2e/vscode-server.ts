/**
 * Starts and stops the VS Code server bundled in code-server (lib/vscode/out/server-main.js): the real
 * workbench and Node extension host the end-to-end tests drive with chromium. Every run gets its own
 * temporary user-data, extensions, server-data and HOME/XDG folders, a free port on 127.0.0.1 and no
 * connection token; stop() kills the server's whole process group (extension hosts outlive a closed tab
 * by hours otherwise) and removes the folders. A server still running when the test process exits is
 * killed then too.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireCodeServer, type CodeServerInstall } from "./code-server-install";
import { E2eHarnessError } from "./e2e-error";

/** How to start the server. */
export interface VsCodeServerOptions {
  /**
   * Whether workspace trust is on. Off by default (`--disable-workspace-trust`): the workbench opens every
   * folder trusted. On, a folder opens in Restricted Mode with no startup prompt (the user settings say
   * so), which is what a test of the extension's behaviour in untrusted workspaces needs.
   */
  workspaceTrust?: boolean;
  /** User settings (User/settings.json of the server's user-data dir), merged over the harness's own. */
  userSettings?: Record<string, unknown>;
  /** User keybindings (User/keybindings.json): `{ key, command, args?, when? }` entries. */
  userKeybindings?: ReadonlyArray<{ key: string; command: string; args?: unknown; when?: string }>;
  /** VSIX files to install into the fresh extensions dir before the server starts. */
  vsixFiles?: string[];
  /** Extra environment for the server and its extension hosts. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the server to listen, in ms (default 20 s). */
  startTimeoutMs?: number;
}

/** The folders of one server run, all under `root` (removed by stop()). */
export interface VsCodeServerDirs {
  root: string;
  userData: string;
  extensions: string;
  serverData: string;
  home: string;
}

/** A running VS Code server. */
export interface VsCodeServer {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  dirs: VsCodeServerDirs;
  /** The environment the server runs with (HOME and XDG_* point into dirs.home); chromium reuses HOME. */
  env: NodeJS.ProcessEnv;
  /** Everything the server and its extension hosts printed so far. */
  output(): string;
  /** `vscode-remote://127.0.0.1:<port><path>`: a path on this machine as the workbench addresses it. */
  remoteUri(absolutePath: string): string;
  /**
   * Copies the server's and the extension hosts' log files (output channels of extensions included) into
   * `targetDir`, for a failed test's artifacts. Call it before stop().
   */
  saveLogs(targetDir: string): void;
  /** Kills the process group and removes the folders; safe to call twice. */
  stop(): Promise<void>;
}

/** Settings every run gets: nothing reaches out to the network, nothing waits for a click. */
const harnessUserSettings: Record<string, unknown> = {
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "workbench.startupEditor": "none",
  "workbench.enableExperiments": false,
  "workbench.tips.enabled": false,
  "security.workspace.trust.startupPrompt": "never",
  "security.workspace.trust.untrustedFiles": "open",
  "security.workspace.trust.banner": "never",
  "chat.disableAIFeatures": true,
  // The built-in Git extension scans the workspace and logs; nothing here needs it.
  "git.enabled": false,
};

/** The servers of this process that have not been stopped, with their folders: killed and removed if the process exits first. */
const running = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // A negative pid addresses the process group the server leads (it was spawned detached), which
    // holds the extension hosts and the pty host it forked.
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void =>
    running.forEach((root, child) => {
      killGroup(child, "SIGKILL");
      rmSync(root, { recursive: true, force: true });
    });
  process.on("exit", killAll);
  // A signal (Ctrl-C, the test runner's kill) ends the process without "exit" handlers: kill the servers,
  // then let the signal take its default course (with no listener left, Node restores the default action).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** The server's environment: HOME and XDG_* in the run's folder, and nothing of a VS Code this may run inside. */
function serverEnv(home: string, extra: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("VSCODE_") || key === "ELECTRON_RUN_AS_NODE") continue;
    env[key] = value;
  }
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    XDG_RUNTIME_DIR: join(home, ".run"),
  });
  return { ...env, ...extra };
}

function makeDirs(): VsCodeServerDirs {
  const root = mkdtempSync(join(tmpdir(), "molmo-e2e-server-"));
  const dirs = {
    root,
    userData: join(root, "user-data"),
    extensions: join(root, "extensions"),
    serverData: join(root, "server-data"),
    home: join(root, "home"),
  };
  for (const dir of [dirs.userData, dirs.extensions, dirs.serverData, dirs.home, join(dirs.home, ".run")]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  return dirs;
}

function commonArgs(dirs: VsCodeServerDirs): string[] {
  return ["--server-data-dir", dirs.serverData, "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions];
}

/** Installs a VSIX with the server's own CLI (`server-main.js --install-extension`) into dirs.extensions. */
function installVsix(install: CodeServerInstall, dirs: VsCodeServerDirs, env: NodeJS.ProcessEnv, vsix: string): void {
  const run = spawnSync(process.execPath, [install.serverMain, ...commonArgs(dirs), "--install-extension", vsix, "--force"], {
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  if (run.status !== 0 || !/successfully installed/i.test(output)) {
    throw new E2eHarnessError(
      "EXTENSION_INSTALL_FAILED",
      `installing ${vsix} failed (exit ${String(run.status ?? run.signal)}):\n${output.trim()}`,
    );
  }
}

/**
 * Starts the VS Code server and resolves once it listens. Rejects with an E2eHarnessError (and leaves
 * nothing running) when code-server is not installed, a VSIX does not install, the server exits early
 * or does not listen in time.
 */
export async function startVsCodeServer(options: VsCodeServerOptions = {}): Promise<VsCodeServer> {
  const install = requireCodeServer();
  const dirs = makeDirs();
  const env = serverEnv(dirs.home, options.env);
  const settings = { ...harnessUserSettings, ...options.userSettings };
  mkdirSync(join(dirs.userData, "User"), { recursive: true });
  writeFileSync(join(dirs.userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
  writeFileSync(join(dirs.userData, "User", "keybindings.json"), JSON.stringify(options.userKeybindings ?? [], null, 2));
  try {
    for (const vsix of options.vsixFiles ?? []) installVsix(install, dirs, env, vsix);
  } catch (error) {
    rmSync(dirs.root, { recursive: true, force: true });
    throw error;
  }

  const args = [
    install.serverMain,
    "--host", "127.0.0.1",
    // Port 0: the server picks a free port and prints it, so two runs never race for one.
    "--port", "0",
    "--without-connection-token",
    "--accept-server-license-terms",
    // Lets the workbench report an extension test run's exit code through window.codeAutomationExit.
    "--enable-smoke-test-driver",
    "--disable-telemetry",
    ...(options.workspaceTrust === true ? [] : ["--disable-workspace-trust"]),
    ...commonArgs(dirs),
  ];
  // detached: the server leads a new process group, so stop() can kill it with everything it forked.
  const child = spawn(process.execPath, args, { cwd: dirs.root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  installExitHook();
  running.set(child, dirs.root);
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    killGroup(child, "SIGTERM");
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
    await Promise.race([exited, timer]);
    // The leader may be gone while children it forked are not: SIGKILL the group in any case.
    killGroup(child, "SIGKILL");
    running.delete(child);
    rmSync(dirs.root, { recursive: true, force: true });
  };

  const port = await new Promise<number>((resolve, reject) => {
    const timeoutMs = options.startTimeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      reject(new E2eHarnessError("SERVER_START_TIMEOUT", `the VS Code server did not listen within ${timeoutMs} ms; it printed:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: string): void => {
      output += chunk;
      const match = /Extension host agent listening on (\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new E2eHarnessError("SERVER_START_FAILED", `the VS Code server could not start: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new E2eHarnessError("SERVER_START_FAILED", `the VS Code server exited (${String(code ?? signal)}) before listening; it printed:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    dirs,
    env,
    output: () => output,
    remoteUri: (absolutePath) => `vscode-remote://127.0.0.1:${port}${absolutePath}`,
    saveLogs: (targetDir) => {
      const logs = join(dirs.userData, "logs");
      if (existsSync(logs)) cpSync(logs, join(targetDir, "vscode-logs"), { recursive: true });
      writeFileSync(join(targetDir, "vscode-server-output.txt"), output);
    },
    stop,
  };
}
