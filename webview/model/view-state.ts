/**
 * The webview's state and how host messages change it: a pure reducer, so the rules (which answer is
 * current, which messages are stale) are tested without a browser, and the whole state is plain JSON that
 * `vscode.setState` keeps while the panel is hidden.
 */
import { isMolmoTaskName } from "../protocol";
import type { HostToViewMessage } from "../protocol";
import type { MolmoAskResult, MolmoEngineState, MolmoPoint, MolmoTaskName } from "../../server/protocol/molmo-protocol";

/** The image the webview shows. */
export interface ShownImage {
  readonly uri: string;
  readonly fileName: string;
  readonly width?: number;
  readonly height?: number;
}

/** Where an answer is: streaming, or finished one of three ways. */
export type AnswerPhase = "running" | "done" | "failed" | "cancelled";

/** The current (or last) answer. */
export interface AnswerView {
  readonly requestId: string;
  readonly task: MolmoTaskName;
  readonly question: string;
  /** The raw answer text, point tags included. */
  readonly text: string;
  readonly points: readonly MolmoPoint[];
  readonly phase: AnswerPhase;
  /** The webview sent `cancel` and waits for the host's `answerCancelled`. */
  readonly cancelRequested: boolean;
  /** The count the answer states (from the final result); null until then or when it states none. */
  readonly count: number | null;
  readonly error?: { readonly message: string; readonly code: string };
  /** One line about the finished answer: tokens, time, model, execution provider. */
  readonly summary?: string;
}

/** Everything the webview shows, as plain JSON. */
export interface ViewState {
  /** Bumped when the shape changes, so an old saved state is dropped instead of misread. */
  readonly version: 1;
  readonly image?: ShownImage;
  /** The question box. */
  readonly draft: { readonly task: MolmoTaskName; readonly question: string };
  readonly answer?: AnswerView;
  readonly engine?: { readonly state: MolmoEngineState; readonly model?: string; readonly ep?: string };
  readonly notice?: { readonly level: "info" | "error"; readonly message: string };
}

/** The state of a freshly opened webview. */
export function initialViewState(): ViewState {
  return { version: 1, draft: { task: "ask", question: "" } };
}

/**
 * The state saved by an earlier instance of the webview (`vscode.getState()`), or a fresh one when there is
 * none or it has another shape (saved by another version of the extension).
 */
export function restoreViewState(saved: unknown): ViewState {
  if (typeof saved !== "object" || saved === null) return initialViewState();
  const candidate = saved as Partial<ViewState>;
  if (candidate.version !== 1 || typeof candidate.draft !== "object" || candidate.draft === null) return initialViewState();
  if (!isMolmoTaskName(candidate.draft.task) || typeof candidate.draft.question !== "string") return initialViewState();
  // A question that was running when the webview went away cannot be followed any more: its deltas were
  // posted to a webview that no longer existed. Show it as interrupted rather than as running forever.
  const answer = candidate.answer;
  if (answer !== undefined && answer.phase === "running") {
    return {
      ...(candidate as ViewState),
      answer: { ...answer, phase: "failed", cancelRequested: false, error: { code: "interrupted", message: "The panel was closed while Molmo was answering." } },
    };
  }
  return candidate as ViewState;
}

/** Longest image URI kept in the saved state; pasted images arrive as `data:` URIs of many megabytes. */
export const MAX_SAVED_IMAGE_URI_LENGTH = 64 * 1024;

/**
 * The state as `vscode.setState` should keep it: without a huge `data:` image URI, which VS Code would copy
 * on every save. The host answers every `ready` with `showImage` (and replays the answer), so the image
 * comes back after a reload anyway.
 */
export function stateToSave(state: ViewState): ViewState {
  if (state.image === undefined || state.image.uri.length <= MAX_SAVED_IMAGE_URI_LENGTH) return state;
  const { image: _tooLarge, ...rest } = state;
  return rest;
}

/** A new state, or the old one and why the message changed nothing. */
export interface Reduction {
  readonly state: ViewState;
  /** Set when the message was ignored (e.g. a delta of an answer that is no longer current). */
  readonly ignored?: string;
}

function mergePoints(current: readonly MolmoPoint[], added: readonly MolmoPoint[]): MolmoPoint[] {
  // A point's index is its identity in the answer; a repeated index replaces the earlier point so a
  // host that re-sends points cannot duplicate markers.
  const byIndex = new Map<number, MolmoPoint>(current.map((point) => [point.index, point]));
  for (const point of added) byIndex.set(point.index, point);
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** One line about a finished answer, e.g. `32 tokens in 1.2 s · tiny-random on cpu`. */
export function answerSummary(result: MolmoAskResult): string {
  const seconds = (result.timings.totalMs / 1000).toFixed(1);
  const tokens = `${result.generatedTokens} token${result.generatedTokens === 1 ? "" : "s"}`;
  const model = result.model.name === "" ? result.ep : `${result.model.name} on ${result.ep}`;
  return `${tokens} in ${seconds} s · ${model}`;
}

function newAnswer(requestId: string, task: MolmoTaskName, question: string): AnswerView {
  return { requestId, task, question, text: "", points: [], phase: "running", cancelRequested: false, count: null };
}

function staleReason(state: ViewState, type: string, requestId: string): string | undefined {
  const current = state.answer;
  if (current === undefined) return `${type} for ${requestId}, but no question was asked`;
  if (current.requestId !== requestId) return `${type} for ${requestId}, but the current question is ${current.requestId}`;
  if (current.phase !== "running") return `${type} for ${requestId}, which already finished (${current.phase})`;
  return undefined;
}

/** Applies one (already validated) host message to the state. */
export function applyHostMessage(state: ViewState, message: HostToViewMessage): Reduction {
  switch (message.type) {
    case "showImage": {
      // Absent sizes stay absent (not undefined) so the state round-trips through setState's JSON unchanged.
      const image: ShownImage = {
        uri: message.uri,
        fileName: message.fileName,
        ...(message.width !== undefined && { width: message.width }),
        ...(message.height !== undefined && { height: message.height }),
      };
      if (state.image?.uri === message.uri) return { state: { ...state, image } };
      const { answer: _dropped, notice: _cleared, ...rest } = state;
      return { state: { ...rest, image } };
    }
    case "answerStarted": {
      const current = state.answer;
      if (current?.requestId === message.requestId && current.phase === "running") {
        // The host confirms the webview's own `ask`: keep what may already have streamed.
        return { state: { ...state, answer: { ...current, task: message.task, question: message.question } } };
      }
      const { notice: _cleared, ...rest } = state;
      return { state: { ...rest, answer: newAnswer(message.requestId, message.task, message.question) } };
    }
    case "answerDelta": {
      const stale = staleReason(state, "answerDelta", message.requestId);
      if (stale !== undefined || state.answer === undefined) return { state, ignored: stale };
      const answer = state.answer;
      const points = message.points === undefined ? answer.points : mergePoints(answer.points, message.points);
      return { state: { ...state, answer: { ...answer, text: answer.text + message.textDelta, points } } };
    }
    case "answerDone": {
      const current = state.answer;
      if (current !== undefined && current.requestId !== message.requestId && current.phase === "running") {
        return { state, ignored: `answerDone for ${message.requestId}, but ${current.requestId} is running` };
      }
      // An answer the webview did not see start is adopted: the host replays the last answer after a reload.
      const { result } = message;
      const answer: AnswerView = {
        requestId: message.requestId,
        task: result.task,
        question: current?.requestId === message.requestId ? current.question : "",
        text: result.text,
        points: mergePoints([], result.points),
        phase: "done",
        cancelRequested: false,
        count: result.count,
        summary: answerSummary(result),
      };
      return { state: { ...state, answer } };
    }
    case "answerFailed": {
      const stale = staleReason(state, "answerFailed", message.requestId);
      if (stale !== undefined || state.answer === undefined) return { state, ignored: stale };
      const error = { message: message.message, code: message.code };
      return { state: { ...state, answer: { ...state.answer, phase: "failed", cancelRequested: false, error } } };
    }
    case "answerCancelled": {
      const stale = staleReason(state, "answerCancelled", message.requestId);
      if (stale !== undefined || state.answer === undefined) return { state, ignored: stale };
      return { state: { ...state, answer: { ...state.answer, phase: "cancelled", cancelRequested: false } } };
    }
    case "engineStatus":
      return {
        state: {
          ...state,
          engine: {
            state: message.state,
            ...(message.model !== undefined && { model: message.model }),
            ...(message.ep !== undefined && { ep: message.ep }),
          },
        },
      };
    case "notice":
      return { state: { ...state, notice: { level: message.level, message: message.message } } };
  }
}

/** Whether the question box may send: an image is shown, nothing runs, and the task has what it needs. */
export function canAsk(state: ViewState): boolean {
  if (state.image === undefined || state.answer?.phase === "running") return false;
  return !taskNeedsQuestion(state.draft.task) || state.draft.question.trim() !== "";
}

/** Whether a task takes a question (`ask`) or an object (`point`, `count`); caption and clock take none. */
export function taskNeedsQuestion(task: MolmoTaskName): boolean {
  return task === "ask" || task === "point" || task === "count";
}

/** The state after the webview sent `ask` with this id: the answer runs at once, so Cancel is available. */
export function startAsk(state: ViewState, requestId: string): ViewState {
  const { task, question } = state.draft;
  const { notice: _cleared, ...rest } = state;
  return { ...rest, answer: newAnswer(requestId, task, taskNeedsQuestion(task) ? question.trim() : "") };
}

/** The state after the webview sent `cancel` for the running answer. */
export function markCancelRequested(state: ViewState): ViewState {
  if (state.answer?.phase !== "running") return state;
  return { ...state, answer: { ...state.answer, cancelRequested: true } };
}

/** The points as the JSON text that "Copy JSON" puts on the clipboard. */
export function pointsJson(points: readonly MolmoPoint[]): string {
  return JSON.stringify(points, null, 2);
}

/** The suggested file name of the annotated PNG: `screenshot.jpg` → `screenshot-molmo.png`. */
export function annotatedPngName(fileName: string): string {
  const base = fileName.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
  return `${base === "" ? "image" : base}-molmo.png`;
}
