/**
 * The extension's entry point: wiring only. Activation (on Molmo's commands and on Markdown files) registers
 * commands, the status bar item, the Markdown context key and the MCP provider, and returns; molmo-server
 * starts later — on the first question, or right after activation when a Markdown file is open and hovers
 * or diagnostics are on — so activation stays in the low milliseconds (measured: MolmoExtensionApi.activationMs
 * and the extension-host tests).
 */
import * as vscode from "vscode";
import type { MolmoExtensionApi } from "./api";
import { registerCommands } from "./commands/register-commands";
import { trackImageLinkContext } from "./commands/image-link-context";
import { MolmoContext } from "./context";
import { registerMcpProvider } from "./mcp/mcp-provider";
import { PointsPanel } from "./panel/points-panel";
import { createStatusBarItem } from "./status/status-bar";

let context: MolmoContext | undefined;

/** Called by VS Code on the first activation event. */
export function activate(extensionContext: vscode.ExtensionContext): MolmoExtensionApi {
  const started = performance.now();
  const ctx = new MolmoContext(extensionContext);
  context = ctx;
  extensionContext.subscriptions.push(ctx, ...registerCommands(ctx), createStatusBarItem(ctx), trackImageLinkContext());

  const mcp = registerMcpProvider({
    serverModule: safeServerModule(ctx),
    version: packageVersion(extensionContext),
    settings: () => ctx.settings,
    log: ctx.log,
  });
  if (mcp !== undefined) {
    extensionContext.subscriptions.push(mcp, ctx.onDidChangeSettings(() => mcp.changed()));
  }

  extensionContext.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("molmo")) void ctx.settingsChanged();
    }),
    // Trust granted: workspace values of the restricted settings (model path, ...) apply from now on.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void ctx.settingsChanged()),
    vscode.workspace.onDidOpenTextDocument((document) => startForMarkdown(ctx, document)),
  );
  // Activation by a Markdown file: start the server for hovers, after activation returns.
  const markdownOpen = vscode.workspace.textDocuments.find((document) => document.languageId === "markdown");
  if (markdownOpen !== undefined) {
    setTimeout(() => startForMarkdown(ctx, markdownOpen), 0);
  }

  const activationMs = performance.now() - started;
  ctx.log.info(`Molmo activated in ${activationMs.toFixed(1)} ms (VS Code ${vscode.version}); molmo-server starts when first needed`);
  return {
    apiVersion: 1,
    activationMs,
    status: () => ctx.status,
    testing: {
      clientPhase: () => ctx.phase,
      activePanel: () => PointsPanel.active?.controller,
      serverModule: () => ctx.serverModule,
    },
  };
}

/** Called by VS Code on shutdown or uninstall: stops molmo-server (VS Code waits for the promise). */
export function deactivate(): Promise<void> | undefined {
  const ctx = context;
  context = undefined;
  return ctx?.stop();
}

/** Starts the server for a Markdown or HTML file when it has something to offer there (hovers, diagnostics). */
function startForMarkdown(ctx: MolmoContext, document: vscode.TextDocument): void {
  if (ctx.phase !== "idle" || document.uri.scheme !== "file" || (document.languageId !== "markdown" && document.languageId !== "html")) {
    return;
  }
  const server = ctx.settings.server;
  if (server.hover?.enabled === false && server.diagnostics?.missingAltText !== true) {
    return;
  }
  ctx.getClient().catch((error: unknown) => ctx.log.error(`molmo-server did not start for ${document.uri.fsPath}: ${String(error)}`));
}

/** The server module, or a placeholder path when it is missing (the MCP definition then fails visibly). */
function safeServerModule(ctx: MolmoContext): string {
  try {
    return ctx.serverModule;
  } catch (error) {
    ctx.log.error(error instanceof Error ? error.message : String(error));
    return "molmo-server-missing.js";
  }
}

function packageVersion(extensionContext: vscode.ExtensionContext): string {
  const version = (extensionContext.extension.packageJSON as { version?: unknown }).version;
  return typeof version === "string" ? version : "0.0.0";
}
