/**
 * The LSP face of molmo-server: wires one connection to the shared engine host. Each feature lives in its
 * own file (hover.ts, alt-text-actions.ts, molmo-requests.ts); this file only creates the connection,
 * declares the capabilities, routes messages, and keeps settings and workspace folders current.
 *
 * Lifetime: `shutdown` disposes the engine host; `exit` ends the process (code 0 after `shutdown`, 1
 * without — vscode-languageserver does the exiting); when the client's side of the channel closes first,
 * {@link LanguageServer.closed} resolves with the code the caller should exit with.
 */
import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  MessageType,
  ShowMessageNotification,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
  type ClientCapabilities,
  type Connection,
  type InitializeResult,
  type PublishDiagnosticsParams,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { Logger } from "../../models/engine/logger";
import type { EngineHost } from "../host/engine-host";
import { altTextClientSupport, missingAltTextDiagnostics, provideAltTextActions, resolveAltTextAction, type AltTextClientSupport } from "./alt-text-actions";
import { DocumentImages } from "./document-images";
import type { FeatureContext } from "./feature-context";
import { DESCRIPTION_PROMPTS, provideHover } from "./hover";
import { ImageDescriptions } from "./image-descriptions";
import { forwardStatusChanges, registerMolmoRequests } from "./molmo-requests";
import { engineSettingsChanged, type ResolvedSettings, type SettingsDefaults } from "./settings";
import { SettingsStore } from "./settings-store";
import { loggingReader, type LspChannel } from "./transport";
import { WorkspaceRoots } from "./workspace-roots";

/** What the language server runs on. */
export interface LanguageServerOptions {
  readonly host: EngineHost;
  readonly logger: Logger;
  readonly version: string;
  readonly channel: LspChannel;
  /** The command line's model, provider and image permissions, which settings override. */
  readonly defaults: SettingsDefaults;
}

/** A running language server. */
export interface LanguageServer {
  /** Resolves when the client's side of the channel closed: with 0 after `shutdown`, else 1. */
  readonly closed: Promise<number>;
}

const DIAGNOSTICS_DELAY_MS = 250;

/** Starts serving LSP on `options.channel`. */
export function startLanguageServer(options: LanguageServerOptions): LanguageServer {
  const { host, logger, channel } = options;
  channel.writer.onError(([error]) => logger.warn(`Writing to the client failed: ${error.message}`));
  const connection = createConnection(loggingReader(channel.reader, logger), channel.writer);
  const documents = new TextDocuments(TextDocument);
  const roots = new WorkspaceRoots();
  const settings = new SettingsStore(options.defaults, logger, () => roots.paths()[0]);
  const context: FeatureContext = {
    host,
    documents,
    images: new DocumentImages(),
    settings,
    roots,
    descriptions: new ImageDescriptions(host, DESCRIPTION_PROMPTS, logger, () => settings.current.maxCrops),
    logger,
  };
  let capabilities: ClientCapabilities = {};
  let altTextSupport: AltTextClientSupport = { resolveEdit: false, documentChanges: false };
  let shutdownReceived = false;
  const diagnostics = diagnosticsScheduler(connection, context);

  connection.onInitialize(async (params): Promise<InitializeResult> => {
    capabilities = params.capabilities;
    altTextSupport = altTextClientSupport(capabilities);
    roots.initialize(params);
    logger.info(`LSP client ${params.clientInfo?.name ?? "(unnamed)"} ${params.clientInfo?.version ?? ""} connected; workspace folders: ${roots.paths().join(", ") || "(none)"}.`);
    await settings.update(params.initializationOptions, "initializationOptions");
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix], resolveProvider: true },
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: "molmo-server", version: options.version },
    };
  });

  connection.onInitialized(() => {
    if (capabilities.workspace?.didChangeConfiguration?.dynamicRegistration === true) {
      void connection.client.register(DidChangeConfigurationNotification.type, { section: "molmo" }).catch((error: unknown) => logger.warn(`Could not register for configuration changes: ${String(error)}`));
    }
    if (capabilities.workspace?.workspaceFolders === true) {
      connection.workspace.onDidChangeWorkspaceFolders((event) => {
        roots.change(event);
        logger.info(`Workspace folders are now: ${roots.paths().join(", ") || "(none)"}.`);
      });
    }
    forwardStatusChanges(connection, context);
    void pullSettings("workspace/configuration");
  });

  connection.onDidChangeConfiguration((params) => {
    if (supportsConfigurationPull()) {
      void pullSettings("workspace/configuration");
    } else if (params.settings !== null && params.settings !== undefined) {
      void settings.update(params.settings, "workspace/didChangeConfiguration");
    }
  });

  settings.onDidChange((after, before) => applySettings(after, before));

  connection.onHover((params, token) => provideHover(context, params, token));
  connection.onCodeAction((params, token) => provideAltTextActions(context, altTextSupport, params, token));
  connection.onCodeActionResolve((action, token) => resolveAltTextAction(context, altTextSupport, action, token));
  registerMolmoRequests(connection, context);

  documents.onDidChangeContent((event) => diagnostics.schedule(event.document));
  documents.onDidClose((event) => {
    context.images.forget(event.document.uri);
    diagnostics.clear(event.document.uri);
  });

  connection.onShutdown(async () => {
    shutdownReceived = true;
    logger.info("Shutdown requested: unloading the model.");
    diagnostics.dispose();
    await host.dispose();
  });
  connection.onExit(() => logger.info(`Exit ${shutdownReceived ? "after shutdown" : "without shutdown (exit code 1)"}.`));

  const closed = new Promise<number>((resolve) => {
    channel.onClosed(() => {
      logger.info(`The client closed the connection${shutdownReceived ? "" : " without shutdown"}.`);
      resolve(shutdownReceived ? 0 : 1);
    });
  });
  documents.listen(connection);
  connection.listen();
  return { closed };

  function supportsConfigurationPull(): boolean {
    return capabilities.workspace?.configuration === true;
  }

  async function pullSettings(source: string): Promise<void> {
    if (!supportsConfigurationPull()) {
      return;
    }
    try {
      const section: unknown = await connection.workspace.getConfiguration({ section: "molmo" });
      // Clients without a molmo section answer null (Neovim, Helix); replacing the settings then would throw
      // away what initializationOptions set, so there is nothing to apply.
      if (section === null || section === undefined) {
        logger.debug(`The client has no molmo settings (${source} answered null); the current settings stay.`);
        return;
      }
      await settings.update(section, source);
    } catch (error) {
      logger.warn(`Could not read the molmo settings from the client: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async function applySettings(after: ResolvedSettings, before: ResolvedSettings): Promise<void> {
    if (after.diagnostics.missingAltText !== before.diagnostics.missingAltText) {
      documents.all().forEach((document) => diagnostics.schedule(document));
    }
    if (engineSettingsChanged(before, after)) {
      try {
        await host.configure({ modelPath: after.modelPath, ep: after.executionProvider });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        logger.error(`The model setting was not applied: ${message}`);
        // A notification, not window/showMessageRequest: nothing to answer, and every client shows it.
        void connection
          .sendNotification(ShowMessageNotification.type, { type: MessageType.Error, message: `Molmo: ${message}` })
          .catch((sendError: unknown) => logger.debug(`The message was not shown: ${String(sendError)}`));
      }
    }
  }
}

/** Publishes missing-alt-text diagnostics a moment after a document stops changing. */
function diagnosticsScheduler(connection: Connection, context: FeatureContext) {
  const timers = new Map<string, NodeJS.Timeout>();
  const published = new Set<string>();
  const send = (params: PublishDiagnosticsParams) =>
    connection.sendDiagnostics(params).catch((error: unknown) => context.logger.debug(`Diagnostics not sent: ${error instanceof Error ? error.message : String(error)}`));
  const publish = (document: TextDocument) => {
    const found = missingAltTextDiagnostics(context, document);
    // Documents with nothing to report and nothing reported before need no message.
    if (found.length === 0 && !published.has(document.uri)) {
      return;
    }
    if (found.length > 0) {
      published.add(document.uri);
    } else {
      published.delete(document.uri);
    }
    void send({ uri: document.uri, version: document.version, diagnostics: found });
  };
  return {
    schedule(document: TextDocument): void {
      clearTimeout(timers.get(document.uri));
      timers.set(
        document.uri,
        setTimeout(() => {
          timers.delete(document.uri);
          const current = context.documents.get(document.uri);
          if (current !== undefined) {
            publish(current);
          }
        }, DIAGNOSTICS_DELAY_MS),
      );
    },
    clear(uri: string): void {
      clearTimeout(timers.get(uri));
      timers.delete(uri);
      if (published.delete(uri)) {
        void send({ uri, diagnostics: [] });
      }
    },
    dispose(): void {
      timers.forEach((timer) => clearTimeout(timer));
      timers.clear();
    },
  };
}
