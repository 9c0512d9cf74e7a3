/**
 * Builds the LanguageClient that runs molmo-server: the server module with the extension host's own Node
 * over stdio, Markdown and HTML files as documents, the sanitised `molmo` settings as initializationOptions
 * and as the answer to `workspace/configuration`, and an error handler that restarts a crashed server
 * unless it keeps crashing (restart-policy.ts).
 */
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  ResponseError,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { lspServerArgs, type ExtensionSettings } from "../config/settings";
import type { RestartPolicy } from "./restart-policy";
import { ServerLogReader } from "./server-log";

/** The client id: VS Code reads `molmo.trace.server` for protocol tracing because of it. */
export const CLIENT_ID = "molmo";

/** What {@link createLanguageClient} needs. */
export interface LanguageClientSetup {
  readonly serverModule: string;
  readonly settings: () => ExtensionSettings;
  readonly log: vscode.LogOutputChannel;
  readonly restartPolicy: RestartPolicy;
  /** Called when the server crashed too often and stays down. */
  readonly onGaveUp: (crashes: number) => void;
  /** Called when `initialize` failed; the client does not retry. */
  readonly onInitializeFailed: (error: unknown) => void;
}

/** Consecutive connection errors tolerated before the client shuts the connection down. */
const MAX_CONNECTION_ERRORS = 3;

/** Documents the server sees: image references in them get hovers, alt-text code actions and diagnostics. */
export const DOCUMENT_SELECTOR = [
  { scheme: "file", language: "markdown" },
  { scheme: "file", language: "html" },
];

/** A LanguageClient for molmo-server (not started). */
export function createLanguageClient(setup: LanguageClientSetup): LanguageClient {
  const args = lspServerArgs(setup.settings());
  // The language client forks the module with the extension host's executable (ELECTRON_RUN_AS_NODE
  // in desktop VS Code), so users need no Node.js of their own; onnxruntime-node and sharp are N-API
  // addons, which load in Electron's Node as well.
  const serverOptions: ServerOptions = {
    run: { module: setup.serverModule, transport: TransportKind.stdio, args },
    debug: { module: setup.serverModule, transport: TransportKind.stdio, args, options: { execArgv: ["--nolazy", "--inspect=6019"] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    outputChannel: setup.log,
    // stderr carries the server's log (with levels), stdout nothing but JSON-RPC in stdio mode.
    stdioOptions: {
      stdout: (input, channel) => forwardLines(input, (line) => channel.info(line)),
      stderr: (input, channel) => {
        const reader = new ServerLogReader();
        forwardLines(input, (line) => {
          const { level, message } = reader.read(line);
          channel[level](message);
        });
      },
    },
    initializationOptions: () => setup.settings().server,
    // Hovers come from the workspace's own Markdown: never let them run commands or raw HTML.
    markdown: { isTrusted: false, supportHtml: false },
    errorHandler: {
      error: (_error, _message, count) => ({ action: (count ?? 0) <= MAX_CONNECTION_ERRORS ? ErrorAction.Continue : ErrorAction.Shutdown }),
      closed: () => {
        if (setup.restartPolicy.recordCrash()) {
          setup.log.warn("molmo-server exited unexpectedly; restarting it");
          return { action: CloseAction.Restart, handled: true };
        }
        setup.onGaveUp(setup.restartPolicy.recentCrashes);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    initializationFailedHandler: (error) => {
      setup.onInitializeFailed(error);
      return false;
    },
    middleware: {
      workspace: {
        // The server asks for the `molmo` section; it gets the sanitised settings (trust applied), never
        // the raw workspace values.
        configuration: async (params, token, next) => {
          const answer = await next(params, token);
          if (answer instanceof ResponseError) {
            return answer;
          }
          return params.items.map((item, index) => (item.section === "molmo" ? setup.settings().server : (answer as unknown[])[index]));
        },
      },
    },
  };
  return new LanguageClient(CLIENT_ID, "Molmo", serverOptions, clientOptions);
}

function forwardLines(input: Readable, write: (line: string) => void): void {
  createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on("line", write);
}
