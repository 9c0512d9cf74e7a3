/**
 * What the LSP feature handlers (hover, code actions, diagnostics, molmo/* requests) share: the open
 * documents, their images, the settings, the workspace folders, the description cache and the engine host.
 * The server builds one and hands it to each feature, so the features hold no state of their own.
 */
import type { CancellationToken, TextDocuments } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import type { Logger } from "../../models/engine/logger";
import type { EngineHost } from "../host/engine-host";
import type { DocumentImages } from "./document-images";
import type { ImageDescriptions } from "./image-descriptions";
import type { SettingsStore } from "./settings-store";
import type { WorkspaceRoots } from "./workspace-roots";

/** The shared state of the LSP features. */
export interface FeatureContext {
  readonly host: EngineHost;
  readonly documents: TextDocuments<TextDocument>;
  readonly images: DocumentImages;
  readonly settings: SettingsStore;
  readonly roots: WorkspaceRoots;
  readonly descriptions: ImageDescriptions;
  readonly logger: Logger;
}

/** An AbortSignal that fires when an LSP request is cancelled; `dispose` detaches it once the request is done. */
export function signalOf(token: CancellationToken): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) {
    controller.abort();
    return { signal: controller.signal, dispose: () => undefined };
  }
  const listener = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => listener.dispose() };
}
