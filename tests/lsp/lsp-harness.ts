/**
 * A real LSP client for the tests: spawns `node dist/server/cli/molmo-server.js --stdio` on the tiny Molmo
 * bundle, talks JSON-RPC to it with vscode-languageserver-protocol, and records what the server sends on its
 * own (notifications, progress, log lines on stderr). Each session has a temporary workspace folder holding
 * the fixture image; sessions are killed at the end of their test file even when a test fails.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  CancellationTokenSource,
  InitializeRequest,
  InitializedNotification,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type ClientCapabilities,
  type InitializeResult,
  type ProtocolConnection,
} from "vscode-languageserver-protocol/node";
import type { MolmoStatus } from "../../server/protocol/molmo-protocol";
import { repoRoot } from "../helpers/repo-root";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

/** How to start a session. */
export interface SessionOptions {
  /** Extra command-line flags. */
  readonly args?: readonly string[];
  /** Start with `--model <tiny bundle>` (default true). */
  readonly withModel?: boolean;
}

/** How to initialize. */
export interface InitializeOptions {
  readonly capabilities?: ClientCapabilities;
  readonly initializationOptions?: unknown;
  /** Answers `workspace/configuration` (section molmo); the client then declares the capability. */
  readonly configuration?: () => unknown;
}

/** A running server and its client. */
export interface LspSession {
  readonly connection: ProtocolConnection;
  readonly child: ChildProcessWithoutNullStreams;
  /** The temporary workspace folder (real path); it holds images/shot.png. */
  readonly workspace: string;
  /** The fixture image inside the workspace. */
  readonly imagePath: string;
  /** Notifications received, in order. */
  readonly notifications: Array<{ method: string; params: unknown }>;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** What the client could not read as JSON-RPC on the server's stdout. */
  stdoutErrors(): readonly string[];
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  initialize(options?: InitializeOptions): Promise<InitializeResult>;
  /** Writes a file into the workspace and opens it; returns its URI. */
  open(relativePath: string, text: string, languageId?: string): string;
  /** Statuses from molmo/statusChanged. */
  statuses(): MolmoStatus[];
  /**
   * Waits until a notification of `method` matching `accept` arrives (or fails after `timeoutMs`), looking
   * at notifications from index `since` on (all by default; pass `notifications.length` for new ones only).
   */
  waitForNotification<T>(method: string, accept?: (params: T) => boolean, options?: { timeoutMs?: number; since?: number }): Promise<T>;
  /** shutdown + exit, then waits for the process. */
  stop(): Promise<number | null>;
  /** Kills the process if it still runs. */
  kill(): void;
}

const sessions: LspSession[] = [];
process.on("exit", () => sessions.forEach((session) => session.kill()));

/** The compiled server entry. */
export function serverScript(): string {
  return join(repoRoot(), "dist", "server", "cli", "molmo-server.js");
}

/** Starts a server in a fresh workspace. */
export function startSession(options: SessionOptions = {}): LspSession {
  const workspace = realpathSync(mkdtempSync(join(tmpdir(), "molmo-lsp-ws-")));
  const imagePath = join(workspace, "images", "shot.png");
  mkdirSync(dirname(imagePath), { recursive: true });
  copyFileSync(join(tinyMolmoDir(), "image.png"), imagePath);
  const args = [serverScript(), "--stdio", "--log-level", "debug", ...(options.withModel === false ? [] : ["--model", makeTinyBundle()]), ...(options.args ?? [])];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, OMP_NUM_THREADS: "1" } });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const reader = new StreamMessageReader(child.stdout);
  // Anything on stdout that is not a well-framed JSON-RPC message (a stray log line) shows up here.
  const readErrors: string[] = [];
  reader.onError((error) => void readErrors.push(error.message));
  const connection = createProtocolConnection(reader, new StreamMessageWriter(child.stdin));
  const notifications: Array<{ method: string; params: unknown }> = [];
  const waiters: Array<() => void> = [];
  connection.onUnhandledNotification((message) => {
    notifications.push({ method: message.method, params: message.params });
    waiters.splice(0).forEach((wake) => wake());
  });
  connection.onRequest("client/registerCapability", () => null);
  connection.onRequest("window/workDoneProgress/create", () => null);
  // The process may exit (tests make it) while the connection still writes; that is not a test failure.
  connection.onError(() => undefined);
  connection.listen();
  let configuration: (() => unknown) | undefined;
  connection.onRequest("workspace/configuration", (params: { items: unknown[] }) => params.items.map(() => configuration?.() ?? null));

  const session: LspSession = {
    connection,
    child,
    workspace,
    imagePath,
    notifications,
    exited,
    stderr: () => stderr,
    stdoutErrors: () => readErrors,
    async initialize(init = {}) {
      configuration = init.configuration;
      const capabilities: ClientCapabilities = {
        ...init.capabilities,
        workspace: { workspaceFolders: true, ...(init.configuration !== undefined ? { configuration: true } : {}), ...init.capabilities?.workspace },
      };
      const result = await connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri: pathToFileURL(workspace).href,
        workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: "ws" }],
        capabilities,
        initializationOptions: init.initializationOptions,
      });
      await connection.sendNotification(InitializedNotification.type, {});
      return result;
    },
    open(relativePath, text, languageId = "markdown") {
      const path = join(workspace, relativePath);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      const uri = pathToFileURL(path).href;
      void connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId, version: 1, text } });
      return uri;
    },
    statuses: () => notifications.filter((n) => n.method === "molmo/statusChanged").map((n) => n.params as MolmoStatus),
    async waitForNotification<T>(method: string, accept: (params: T) => boolean = () => true, { timeoutMs = 10_000, since = 0 } = {}): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      let seen = since;
      for (;;) {
        for (; seen < notifications.length; seen++) {
          const notification = notifications[seen];
          if (notification.method === method && accept(notification.params as T)) {
            return notification.params as T;
          }
        }
        if (Date.now() > deadline) {
          throw new Error(`No ${method} notification within ${timeoutMs} ms. stderr:\n${stderr}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async stop() {
      if (child.exitCode === null) {
        try {
          await connection.sendRequest("shutdown");
          await connection.sendNotification("exit");
        } catch {
          // Already gone.
        }
      }
      const code = await Promise.race([exited, new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5000))]);
      session.kill();
      return code === "timeout" ? null : code;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
      }
      connection.dispose();
      rmSync(workspace, { recursive: true, force: true });
    },
  };
  sessions.push(session);
  return session;
}

/** A cancellation source and its token, for requests a test cancels. */
export function cancellable(): CancellationTokenSource {
  return new CancellationTokenSource();
}

/** The Content-Length framed bytes of a JSON-RPC message body (valid or not). */
export function frame(body: string): string {
  return `Content-Length: ${Buffer.byteLength(body, "utf8")}\r\n\r\n${body}`;
}

/**
 * Fails when the server logged an error that escaped every handler (an unhandled rejection or exception),
 * or wrote to stdout what is not JSON-RPC.
 */
export function assertNoInternalErrors(session: LspSession): void {
  const match = /(Unhandled rejection|Uncaught exception)[^\n]*/.exec(session.stderr());
  if (match !== null) {
    throw new Error(`molmo-server logged an internal error: ${match[0]}`);
  }
  if (session.stdoutErrors().length > 0) {
    throw new Error(`molmo-server wrote something other than JSON-RPC to stdout: ${session.stdoutErrors().join("; ")}`);
  }
}
