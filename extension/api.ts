/**
 * What `activate` returns (`vscode.extensions.getExtension("molmo-vscode.molmo-vscode").exports`): a small
 * typed API for other extensions, and a `testing` view of internals for the extension-host tests
 * (rust-analyzer exposes its internals to tests the same way). Questions are asked through the commands
 * (`molmo.ask` etc. return the `MolmoAskResult`), not through this object.
 */
import type { MolmoStatus } from "../server/protocol/molmo-protocol";
import type { PanelController } from "./panel/panel-controller";
import type { ClientPhase } from "./status/status-text";

/** The extension's exports. */
export interface MolmoExtensionApi {
  readonly apiVersion: 1;
  /** Milliseconds `activate` took (module loading not included). */
  readonly activationMs: number;
  /** molmo-server's last status, undefined before it started. */
  status(): MolmoStatus | undefined;
  /** Internals for tests; not a stable API. */
  readonly testing: MolmoTestingApi;
}

/** See {@link MolmoExtensionApi.testing}. */
export interface MolmoTestingApi {
  /** The language client's phase (idle until the first question or Markdown hover). */
  clientPhase(): ClientPhase;
  /** The points panel's controller, when the panel is open. */
  activePanel(): PanelController | undefined;
  /** The server module the client runs. */
  serverModule(): string;
}
