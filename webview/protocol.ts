/**
 * The one message protocol between the extension (the webview's host) and the points webview.
 *
 * Every message is a plain JSON object with a `type` discriminator. The types below are the contract;
 * `parseHostToViewMessage` / `parseViewToHostMessage` check an incoming value at runtime, because
 * `postMessage` crosses a trust boundary where TypeScript's types do not reach: each side ignores a
 * malformed message with the reason these functions give (logged), and never crashes on one.
 *
 * Pure types and checks: no DOM, no `vscode` import, so both the extension (Node) and the webview (browser)
 * compile it.
 */
import { MOLMO_TASK_NAMES } from "../server/protocol/molmo-protocol";
import type { MolmoAskResult, MolmoEngineState, MolmoPoint, MolmoTaskName } from "../server/protocol/molmo-protocol";

/** Bumped when a message changes shape; the webview sends it in `ready` so a mismatch can be reported. */
export const WEBVIEW_PROTOCOL_VERSION = 1;

/** Largest pasted or dropped image the webview sends to the host (decoded bytes). */
export const MAX_DROPPED_IMAGE_BYTES = 20 * 1024 * 1024;

/** Image types the webview accepts from the clipboard or a drop (those the server's image loader reads). */
export const ACCEPTED_IMAGE_MIME_TYPES: readonly string[] = [
  "image/png", "image/jpeg", "image/webp", "image/gif", "image/tiff", "image/avif", "image/bmp",
];

// ---------------------------------------------------------------------------------------------
// Host (extension) → webview
// ---------------------------------------------------------------------------------------------

/**
 * Show an image. A different `uri` clears the answer and points; the same `uri` keeps them, so the host can
 * answer every `ready` (also after the webview was hidden and reloaded) with `showImage` without losing
 * the answer the webview restored from its saved state.
 */
export interface ShowImageMessage {
  readonly type: "showImage";
  /** `webview.asWebviewUri(...)` of the file, or a `data:`/`blob:` URI. */
  readonly uri: string;
  /** Shown in the header and used for the saved PNG's suggested name. */
  readonly fileName: string;
  /**
   * Size of the image as displayed (EXIF orientation applied), when the host knows it. When absent the
   * webview uses the decoded image's natural size (browsers apply EXIF orientation too).
   */
  readonly width?: number;
  readonly height?: number;
}

/** A question about the shown image has started (from the webview's `ask` or from a command). */
export interface AnswerStartedMessage {
  readonly type: "answerStarted";
  readonly requestId: string;
  readonly task: MolmoTaskName;
  readonly question: string;
}

/** A streamed piece of the answer: the text generated since the last delta and the points it completed. */
export interface AnswerDeltaMessage {
  readonly type: "answerDelta";
  readonly requestId: string;
  readonly textDelta: string;
  /** Points whose tags completed in this delta (the `points` of `MolmoAskPartialResult`). */
  readonly points?: readonly MolmoPoint[];
}

/** The final answer; its text and points replace what was streamed. */
export interface AnswerDoneMessage {
  readonly type: "answerDone";
  readonly requestId: string;
  readonly result: MolmoAskResult;
}

/** The question failed. `code` is the server's error code (`busy`, `timeout`, `no_model`, ...). */
export interface AnswerFailedMessage {
  readonly type: "answerFailed";
  readonly requestId: string;
  readonly message: string;
  readonly code: string;
}

/** The question was cancelled (after the webview's `cancel` or otherwise); what streamed so far stays. */
export interface AnswerCancelledMessage {
  readonly type: "answerCancelled";
  readonly requestId: string;
}

/** The state of molmo-server's engine, shown in the webview's header. */
export interface EngineStatusMessage {
  readonly type: "engineStatus";
  readonly state: MolmoEngineState;
  /** The model's name, when one is configured. */
  readonly model?: string;
  /** The execution provider, once loaded. */
  readonly ep?: string;
}

/** A one-line notice for the user (e.g. "Saved image-molmo.png", or why a dropped image was refused). */
export interface NoticeMessage {
  readonly type: "notice";
  readonly level: "info" | "error";
  readonly message: string;
}

/** Every message the extension sends to the webview. */
export type HostToViewMessage =
  | ShowImageMessage
  | AnswerStartedMessage
  | AnswerDeltaMessage
  | AnswerDoneMessage
  | AnswerFailedMessage
  | AnswerCancelledMessage
  | EngineStatusMessage
  | NoticeMessage;

// ---------------------------------------------------------------------------------------------
// Webview → host (extension)
// ---------------------------------------------------------------------------------------------

/** The webview's script has loaded and listens; the host answers with `showImage` (and `engineStatus`). */
export interface ReadyMessage {
  readonly type: "ready";
  readonly protocolVersion: number;
}

/**
 * Ask about the shown image. The webview makes the `requestId` (so it can cancel before the host answers);
 * the host echoes it in `answerStarted` and every later message of that answer.
 */
export interface AskMessage {
  readonly type: "ask";
  readonly requestId: string;
  readonly task: MolmoTaskName;
  /** The question (`ask`) or what to point at / count (`point`, `count`); empty for `caption` and `clock`. */
  readonly question: string;
}

/** Cancel a running question. */
export interface CancelMessage {
  readonly type: "cancel";
  readonly requestId: string;
}

/**
 * Put the points on the clipboard. The webview sends the JSON text because the clipboard API is not
 * reliably available inside a webview iframe; the host writes it with `vscode.env.clipboard`.
 */
export interface CopyPointsMessage {
  readonly type: "copyPoints";
  /** `JSON.stringify(points, null, 2)` of the current `MolmoPoint[]`. */
  readonly json: string;
  readonly count: number;
}

/**
 * Save the image with the points drawn on it. The webview renders the PNG itself (canvas: image + the same
 * markers as the overlay), because it already holds the decoded image and the marker geometry, and the
 * extension may not decode images (no sharp outside molmo-server). The host asks where to save it.
 */
export interface SaveAnnotatedPngMessage {
  readonly type: "saveAnnotatedPng";
  /** The PNG file, base64 (no `data:` prefix). */
  readonly pngBase64: string;
  /** E.g. `screenshot-molmo.png`. */
  readonly suggestedName: string;
}

/** An image pasted from the clipboard or dropped on the webview; the host shows it and may ask about it. */
export interface ImageDroppedMessage {
  readonly type: "imageDropped";
  /** The file's bytes, base64 (no `data:` prefix); at most {@link MAX_DROPPED_IMAGE_BYTES} decoded. */
  readonly base64: string;
  /** One of {@link ACCEPTED_IMAGE_MIME_TYPES}. */
  readonly mime: string;
  /** The file's name, or `pasted-image.png` for clipboard images without one. */
  readonly name: string;
}

/** Every message the webview sends to the extension. */
export type ViewToHostMessage =
  | ReadyMessage
  | AskMessage
  | CancelMessage
  | CopyPointsMessage
  | SaveAnnotatedPngMessage
  | ImageDroppedMessage;

// ---------------------------------------------------------------------------------------------
// Runtime checks
// ---------------------------------------------------------------------------------------------

/** The result of checking an incoming message: the typed message, or why it was refused. */
export type ParseResult<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly reason: string };

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/** Whether a value is one of Molmo's task names. */
export function isMolmoTaskName(value: unknown): value is MolmoTaskName {
  return typeof value === "string" && (MOLMO_TASK_NAMES as readonly string[]).includes(value);
}

const ENGINE_STATES: readonly MolmoEngineState[] = ["unloaded", "loading", "ready", "busy", "error"];

/** Why a value is not a {@link MolmoPoint}, or undefined when it is one. */
export function molmoPointProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "a point is not an object";
  for (const key of ["index", "x", "y", "xPercent", "yPercent"] as const) {
    if (!isFiniteNumber(value[key])) return `a point's ${key} is not a finite number`;
  }
  if (typeof value.label !== "string") return "a point's label is not a string";
  if (value.alt !== undefined && typeof value.alt !== "string") return "a point's alt is not a string";
  return undefined;
}

function pointsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "points is not an array";
  for (const point of value) {
    const problem = molmoPointProblem(point);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Checks the parts of a `MolmoAskResult` the webview reads; the rest is passed through untouched. */
function askResultProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "result is not an object";
  if (typeof value.text !== "string") return "result.text is not a string";
  const points = pointsProblem(value.points);
  if (points !== undefined) return `result.${points}`;
  if (value.count !== null && !isFiniteNumber(value.count)) return "result.count is neither a number nor null";
  if (!isMolmoTaskName(value.task)) return "result.task is not a Molmo task";
  const image = value.image;
  if (!isObject(image) || !isFiniteNumber(image.width) || !isFiniteNumber(image.height)) {
    return "result.image has no numeric width and height";
  }
  // The summary line under the answer reads these.
  if (typeof value.ep !== "string") return "result.ep is not a string";
  if (!isFiniteNumber(value.generatedTokens)) return "result.generatedTokens is not a number";
  if (!isObject(value.timings) || !isFiniteNumber(value.timings.totalMs)) return "result.timings.totalMs is not a number";
  if (!isObject(value.model) || typeof value.model.name !== "string") return "result.model.name is not a string";
  return undefined;
}

function fail<T>(reason: string): ParseResult<T> {
  return { ok: false, reason };
}

function problemOrMessage<T>(problem: string | undefined, value: Fields): ParseResult<T> {
  return problem === undefined ? { ok: true, message: value as unknown as T } : fail(problem);
}

function hostToViewProblem(value: Fields): string | undefined {
  switch (value.type) {
    case "showImage":
      if (!isNonEmptyString(value.uri)) return "showImage.uri is not a non-empty string";
      if (typeof value.fileName !== "string") return "showImage.fileName is not a string";
      for (const key of ["width", "height"] as const) {
        const size = value[key];
        if (size !== undefined && !(isFiniteNumber(size) && size > 0)) return `showImage.${key} is not a positive number`;
      }
      return undefined;
    case "answerStarted":
      if (!isNonEmptyString(value.requestId)) return "answerStarted.requestId is not a non-empty string";
      if (!isMolmoTaskName(value.task)) return "answerStarted.task is not a Molmo task";
      if (typeof value.question !== "string") return "answerStarted.question is not a string";
      return undefined;
    case "answerDelta":
      if (!isNonEmptyString(value.requestId)) return "answerDelta.requestId is not a non-empty string";
      if (typeof value.textDelta !== "string") return "answerDelta.textDelta is not a string";
      if (value.points !== undefined) {
        const problem = pointsProblem(value.points);
        if (problem !== undefined) return `answerDelta.${problem}`;
      }
      return undefined;
    case "answerDone":
      if (!isNonEmptyString(value.requestId)) return "answerDone.requestId is not a non-empty string";
      return askResultProblem(value.result);
    case "answerFailed":
      if (!isNonEmptyString(value.requestId)) return "answerFailed.requestId is not a non-empty string";
      if (typeof value.message !== "string") return "answerFailed.message is not a string";
      if (typeof value.code !== "string") return "answerFailed.code is not a string";
      return undefined;
    case "answerCancelled":
      return isNonEmptyString(value.requestId) ? undefined : "answerCancelled.requestId is not a non-empty string";
    case "engineStatus":
      if (!(ENGINE_STATES as readonly unknown[]).includes(value.state)) return "engineStatus.state is not an engine state";
      if (value.model !== undefined && typeof value.model !== "string") return "engineStatus.model is not a string";
      if (value.ep !== undefined && typeof value.ep !== "string") return "engineStatus.ep is not a string";
      return undefined;
    case "notice":
      if (value.level !== "info" && value.level !== "error") return "notice.level is neither info nor error";
      return typeof value.message === "string" ? undefined : "notice.message is not a string";
    default:
      return `unknown message type ${JSON.stringify(value.type)}`;
  }
}

/** Checks a message the webview received from the host. */
export function parseHostToViewMessage(value: unknown): ParseResult<HostToViewMessage> {
  if (!isObject(value)) return fail("the message is not an object");
  return problemOrMessage(hostToViewProblem(value), value);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes a base64 string decodes to (assuming it is well-formed). */
export function base64DecodedLength(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

function base64Problem(value: unknown, what: string, maxBytes: number): string | undefined {
  if (!isNonEmptyString(value)) return `${what} is not a non-empty string`;
  if (value.length % 4 !== 0 || !BASE64.test(value)) return `${what} is not base64`;
  if (base64DecodedLength(value) > maxBytes) return `${what} is larger than ${maxBytes} bytes`;
  return undefined;
}

/** Longest question the webview sends (a question box, not a document). */
export const MAX_QUESTION_LENGTH = 4000;

/** Largest annotated PNG accepted from the webview (decoded bytes). */
export const MAX_ANNOTATED_PNG_BYTES = 64 * 1024 * 1024;

function viewToHostProblem(value: Fields): string | undefined {
  switch (value.type) {
    case "ready":
      return isFiniteNumber(value.protocolVersion) ? undefined : "ready.protocolVersion is not a number";
    case "ask":
      if (!isNonEmptyString(value.requestId)) return "ask.requestId is not a non-empty string";
      if (!isMolmoTaskName(value.task)) return "ask.task is not a Molmo task";
      if (typeof value.question !== "string") return "ask.question is not a string";
      if (value.question.length > MAX_QUESTION_LENGTH) return `ask.question is longer than ${MAX_QUESTION_LENGTH} characters`;
      return undefined;
    case "cancel":
      return isNonEmptyString(value.requestId) ? undefined : "cancel.requestId is not a non-empty string";
    case "copyPoints":
      if (typeof value.json !== "string") return "copyPoints.json is not a string";
      if (!(isFiniteNumber(value.count) && value.count >= 0)) return "copyPoints.count is not a count";
      return undefined;
    case "saveAnnotatedPng":
      if (!isNonEmptyString(value.suggestedName)) return "saveAnnotatedPng.suggestedName is not a non-empty string";
      return base64Problem(value.pngBase64, "saveAnnotatedPng.pngBase64", MAX_ANNOTATED_PNG_BYTES);
    case "imageDropped":
      if (typeof value.mime !== "string" || !ACCEPTED_IMAGE_MIME_TYPES.includes(value.mime)) {
        return `imageDropped.mime ${JSON.stringify(value.mime)} is not an accepted image type`;
      }
      if (!isNonEmptyString(value.name)) return "imageDropped.name is not a non-empty string";
      return base64Problem(value.base64, "imageDropped.base64", MAX_DROPPED_IMAGE_BYTES);
    default:
      return `unknown message type ${JSON.stringify(value.type)}`;
  }
}

/** Checks a message the host received from the webview. */
export function parseViewToHostMessage(value: unknown): ParseResult<ViewToHostMessage> {
  if (!isObject(value)) return fail("the message is not an object");
  return problemOrMessage(viewToHostProblem(value), value);
}
