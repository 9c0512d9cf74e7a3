/**
 * Entry point of the points webview (bundled to dist/webview/main.js): restores the saved state, renders
 * it, applies the host's messages (after checking them), turns user actions into messages for the host,
 * and tells the host it is ready.
 */
import { parseHostToViewMessage, WEBVIEW_PROTOCOL_VERSION } from "../protocol";
import type { ViewToHostMessage } from "../protocol";
import {
  annotatedPngName,
  applyHostMessage,
  canAsk,
  markCancelRequested,
  pointsJson,
  restoreViewState,
  startAsk,
  stateToSave,
} from "../model/view-state";
import type { ViewState } from "../model/view-state";
import { renderAnnotatedPng } from "./annotated-png";
import { firstImageFile, readImageFile } from "./image-input";
import { connectToHost } from "./vscode-api";
import { WebviewView } from "./view";

const LOG_PREFIX = "[molmo webview]";

const host = connectToHost();
let state: ViewState = restoreViewState(host.loadState());
let requestCounter = 0;

function update(next: ViewState): void {
  state = next;
  host.saveState(stateToSave(state));
  view.render(state);
}

function post(message: ViewToHostMessage): void {
  host.post(message);
}

function showNotice(level: "info" | "error", message: string): void {
  update({ ...state, notice: { level, message } });
}

function newRequestId(): string {
  // Unique within this webview's life and across reloads (the time part), which is all the host needs.
  requestCounter += 1;
  return `view-${Date.now().toString(36)}-${requestCounter}`;
}

const view = new WebviewView({
  ask() {
    if (!canAsk(state)) return;
    const requestId = newRequestId();
    const next = startAsk(state, requestId);
    const answer = next.answer;
    if (answer === undefined) return;
    update(next);
    post({ type: "ask", requestId, task: answer.task, question: answer.question });
  },
  cancel() {
    const answer = state.answer;
    if (answer?.phase !== "running" || answer.cancelRequested) return;
    update(markCancelRequested(state));
    post({ type: "cancel", requestId: answer.requestId });
  },
  copyPoints() {
    const points = state.answer?.points ?? [];
    post({ type: "copyPoints", json: pointsJson(points), count: points.length });
  },
  saveAnnotatedPng() {
    try {
      const pngBase64 = renderAnnotatedPng(view.image, state.answer?.points ?? []);
      post({ type: "saveAnnotatedPng", pngBase64, suggestedName: annotatedPngName(state.image?.fileName ?? "image") });
    } catch (error) {
      showNotice("error", error instanceof Error ? error.message : String(error));
    }
  },
  editDraft(task, question) {
    update({ ...state, draft: { task, question } });
  },
  imageFile(items) {
    const file = firstImageFile(items);
    if (file === undefined) return;
    readImageFile(file).then(
      (result) => {
        if (result.ok) post(result.message);
        else showNotice("error", result.reason);
      },
      (error: unknown) => showNotice("error", `The image could not be read: ${String(error)}`),
    );
  },
});

window.addEventListener("message", (event: MessageEvent<unknown>) => {
  const parsed = parseHostToViewMessage(event.data);
  if (!parsed.ok) {
    console.warn(`${LOG_PREFIX} ignored a malformed message: ${parsed.reason}`);
    return;
  }
  const { state: next, ignored } = applyHostMessage(state, parsed.message);
  if (ignored !== undefined) {
    console.info(`${LOG_PREFIX} ignored a stale message: ${ignored}`);
    return;
  }
  update(next);
});

view.render(state);
post({ type: "ready", protocolVersion: WEBVIEW_PROTOCOL_VERSION });
