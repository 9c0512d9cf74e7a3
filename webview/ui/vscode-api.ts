/**
 * The webview's side of the host connection: a typed wrapper around `acquireVsCodeApi()`, which VS Code
 * injects into every webview (and may be called only once).
 */
import type { ViewToHostMessage } from "../protocol";
import type { ViewState } from "../model/view-state";

/** What `acquireVsCodeApi()` returns (the parts this webview uses). */
interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** The extension, as the webview sees it. */
export interface Host {
  /** Sends a message to the extension. */
  post(message: ViewToHostMessage): void;
  /** The state saved by an earlier instance of this webview (unchecked: restore it with `restoreViewState`). */
  loadState(): unknown;
  /** Saves the state so it survives the panel being hidden and shown (the webview is reloaded then). */
  saveState(state: ViewState): void;
}

/** Connects to the extension. */
export function connectToHost(): Host {
  const api = acquireVsCodeApi();
  return {
    post: (message) => api.postMessage(message),
    loadState: () => api.getState(),
    saveState: (state) => api.setState(state),
  };
}
