/**
 * The points panel's logic, without the panel: what the extension sends the webview and what it does with
 * the webview's messages (webview/protocol.ts). The VS Code side (points-panel.ts) supplies a
 * {@link PanelHost} (post a message, clipboard, save dialog, notifications) and an {@link AskBackend}
 * (molmo/ask over the language client); unit tests supply fakes.
 *
 * - One question at a time: a new question cancels the one still running (the panel shows one answer).
 * - Partial results (`$/progress` on the request's partial-result token) become `answerDelta` messages.
 * - The webview may be reloaded (hidden and shown again, or its options changed) and then says `ready`
 *   again: the controller answers with the image, the engine status and a compact replay of the current
 *   answer, so nothing streamed while it was hidden is lost.
 * - Everything that comes from the webview is checked first (`parseViewToHostMessage`): the webview is an
 *   untrusted boundary, and a malformed message is logged and dropped.
 */
import { randomUUID } from "node:crypto";
import type {
  MolmoAskParams,
  MolmoAskPartialResult,
  MolmoAskResult,
  MolmoGenerationOptions,
  MolmoPoint,
  MolmoStatus,
  MolmoTaskName,
} from "../../server/protocol/molmo-protocol";
import {
  WEBVIEW_PROTOCOL_VERSION,
  parseViewToHostMessage,
  type AnswerDoneMessage,
  type AnswerFailedMessage,
  type AnswerCancelledMessage,
  type EngineStatusMessage,
  type HostToViewMessage,
  type ViewToHostMessage,
} from "../../webview/protocol";
import { buildAskParams } from "../commands/ask-request";
import { errorCodeOf, errorMessageOf } from "../errors/error-plan";

/** An image the panel shows and asks about. */
export interface PanelImage {
  /** What `molmo/ask` gets: an absolute file path or a `data:` URI. */
  readonly serverImage: string;
  /** What the webview loads: `asWebviewUri(...)` of the file, or the `data:` URI. */
  readonly webviewUri: string;
  readonly fileName: string;
  /** The Markdown document the image was linked from (the server resolves and checks paths against it). */
  readonly documentUri?: string;
  /** Width and height when known (the webview measures the image otherwise). */
  readonly width?: number;
  readonly height?: number;
}

/** `molmo/ask` without the tokens, which the backend makes. */
export type AskParamsWithoutTokens = Omit<MolmoAskParams, "partialResultToken" | "workDoneToken">;

/** Sends `molmo/ask`. Partial results arrive through `onPartial`; aborting `signal` cancels the request. */
export interface AskBackend {
  ask(params: AskParamsWithoutTokens, onPartial: (partial: MolmoAskPartialResult) => void, signal: AbortSignal): Promise<MolmoAskResult>;
}

/** What the controller needs from VS Code. */
export interface PanelHost {
  /** `webview.postMessage`; false (or a rejection) when the webview was not there to receive it. */
  post(message: HostToViewMessage): PromiseLike<boolean> | boolean;
  copyToClipboard(text: string): PromiseLike<void>;
  /** Asks where to save and writes the file; the saved file's name, or undefined when the user cancelled. */
  savePng(bytes: Uint8Array, suggestedName: string): PromiseLike<string | undefined>;
  /** The `molmo.generation` settings; a question's own options win over them. */
  generationOptions(): MolmoGenerationOptions;
  /**
   * Called whenever the shown image changes, also for an image pasted or dropped into the webview, so the
   * panel's title can name it.
   */
  imageShown(image: PanelImage): void;
  /** Shows the notification for a failed question (with its action, e.g. "Select Model…"). */
  reportError(error: unknown): void;
  log(level: "info" | "warn" | "error", message: string): void;
}

/** A question to ask about the current image. */
export interface PanelQuestion {
  readonly task: MolmoTaskName;
  readonly question?: string;
  readonly options?: MolmoGenerationOptions;
  readonly timeoutMs?: number;
  /** Set when the webview asked (it made the id); a fresh id otherwise. */
  readonly requestId?: string;
}

/** How a question ended. */
export type AskOutcome =
  | { readonly kind: "done"; readonly result: MolmoAskResult }
  | { readonly kind: "failed"; readonly error: unknown }
  | { readonly kind: "cancelled" };

/** The answer the webview should be showing, kept for replays after a reload. */
interface Transcript {
  readonly requestId: string;
  readonly task: MolmoTaskName;
  readonly question: string;
  text: string;
  points: MolmoPoint[];
  final?: AnswerDoneMessage | AnswerFailedMessage | AnswerCancelledMessage;
}

/** A posted message and whether the webview took it: undefined while VS Code has not said yet. */
export interface PostRecord {
  readonly message: HostToViewMessage;
  delivered: boolean | undefined;
}

/** Largest number of post records kept (a long answer streams many deltas). */
const MAX_POST_RECORDS = 500;

/** See the file comment. */
export class PanelController {
  private image: PanelImage | undefined;
  private engine: EngineStatusMessage | undefined;
  private transcript: Transcript | undefined;
  private running: { readonly requestId: string; readonly abort: AbortController } | undefined;
  private readyCount = 0;
  private disposed = false;
  private readonly posts: PostRecord[] = [];
  private readonly received: ViewToHostMessage[] = [];
  private readonly receiveListeners = new Set<(message: ViewToHostMessage) => void>();

  constructor(
    private readonly host: PanelHost,
    private readonly backend: AskBackend,
    private readonly newRequestId: () => string = randomUUID,
  ) {}

  /** The image shown now. */
  get currentImage(): PanelImage | undefined {
    return this.image;
  }

  /** How many times the webview said `ready` (its script loaded). */
  get webviewReadyCount(): number {
    return this.readyCount;
  }

  /** The messages posted so far, oldest first (bounded), with whether each was delivered. */
  get postedMessages(): readonly PostRecord[] {
    return this.posts;
  }

  /** The valid messages received from the webview so far. */
  get receivedMessages(): readonly ViewToHostMessage[] {
    return this.received;
  }

  /** Calls `listener` with every valid message from the webview; returns a function that stops it. */
  onDidReceive(listener: (message: ViewToHostMessage) => void): () => void {
    this.receiveListeners.add(listener);
    return () => this.receiveListeners.delete(listener);
  }

  /** Shows an image: a different one clears the answer (and cancels a question still running about it). */
  showImage(image: PanelImage): void {
    if (this.image === undefined || this.image.serverImage !== image.serverImage) {
      this.cancelRunning();
      this.transcript = undefined;
    }
    this.image = image;
    this.host.imageShown(image);
    this.post(this.showImageMessage(image));
  }

  /** Passes molmo-server's status on to the webview's header. */
  setEngineStatus(status: MolmoStatus | undefined): void {
    if (status === undefined) {
      return;
    }
    this.engine = {
      type: "engineStatus",
      state: status.state,
      ...(status.model !== undefined ? { model: status.model.name } : {}),
      ...(status.ep !== undefined ? { ep: status.ep } : {}),
    };
    this.post(this.engine);
  }

  /** Asks a question about the current image and streams the answer into the webview. */
  async ask(question: PanelQuestion): Promise<AskOutcome> {
    const image = this.image;
    if (image === undefined) {
      const error = Object.assign(new Error("Open an image first."), { code: "empty_image" });
      this.post({ type: "notice", level: "error", message: error.message });
      return { kind: "failed", error };
    }
    this.cancelRunning();
    const requestId = question.requestId ?? this.newRequestId();
    const text = question.question ?? "";
    const transcript: Transcript = { requestId, task: question.task, question: text, text: "", points: [] };
    this.transcript = transcript;
    this.post({ type: "answerStarted", requestId, task: question.task, question: text });

    let params: AskParamsWithoutTokens;
    try {
      params = buildAskParams({
        image: image.serverImage,
        task: question.task,
        question: text,
        ...(image.documentUri !== undefined ? { documentUri: image.documentUri } : {}),
        options: { ...this.host.generationOptions(), ...question.options },
        ...(question.timeoutMs !== undefined ? { timeoutMs: question.timeoutMs } : {}),
      });
    } catch (error) {
      this.finish(transcript, { type: "answerFailed", requestId, message: errorMessageOf(error), code: errorCodeOf(error) ?? "bad_request" });
      return { kind: "failed", error };
    }

    const abort = new AbortController();
    this.running = { requestId, abort };
    try {
      const result = await this.backend.ask(params, (partial) => this.onPartial(transcript, partial), abort.signal);
      if (abort.signal.aborted) {
        // The answer raced the cancellation; the user asked to stop, so the panel says cancelled.
        this.finish(transcript, { type: "answerCancelled", requestId });
        return { kind: "cancelled" };
      }
      transcript.text = result.text;
      transcript.points = [...result.points];
      this.finish(transcript, { type: "answerDone", requestId, result });
      return { kind: "done", result };
    } catch (error) {
      if (abort.signal.aborted || errorCodeOf(error) === "cancelled") {
        this.finish(transcript, { type: "answerCancelled", requestId });
        return { kind: "cancelled" };
      }
      this.finish(transcript, { type: "answerFailed", requestId, message: errorMessageOf(error), code: errorCodeOf(error) ?? "internal" });
      this.host.reportError(error);
      return { kind: "failed", error };
    } finally {
      if (this.running?.requestId === requestId) {
        this.running = undefined;
      }
    }
  }

  /** Cancels the running question, if any. */
  cancelRunning(): void {
    this.running?.abort.abort();
    this.running = undefined;
  }

  /** Handles one message from the webview (anything: it is checked here). */
  async receive(raw: unknown): Promise<void> {
    const parsed = parseViewToHostMessage(raw);
    if (!parsed.ok) {
      this.host.log("warn", `Ignored a message from the points webview: ${parsed.reason}`);
      return;
    }
    const message = parsed.message;
    this.received.push(message);
    for (const listener of this.receiveListeners) listener(message);
    await this.handle(message);
  }

  private async handle(message: ViewToHostMessage): Promise<void> {
    switch (message.type) {
      case "ready":
        this.onReady(message.protocolVersion);
        return;
      case "ask":
        if (this.running?.requestId === message.requestId) return;
        await this.ask({ task: message.task, question: message.question, requestId: message.requestId });
        return;
      case "cancel":
        if (this.running?.requestId === message.requestId) {
          this.cancelRunning();
        } else {
          this.host.log("info", `Cancel for ${message.requestId}, which is not running; ignored`);
        }
        return;
      case "copyPoints":
        await this.host.copyToClipboard(message.json);
        this.post({ type: "notice", level: "info", message: `Copied ${message.count} ${message.count === 1 ? "point" : "points"} as JSON.` });
        return;
      case "saveAnnotatedPng":
        await this.savePng(message.pngBase64, message.suggestedName);
        return;
      case "imageDropped":
        this.showImage({ serverImage: `data:${message.mime};base64,${message.base64}`, webviewUri: `data:${message.mime};base64,${message.base64}`, fileName: message.name });
        return;
      default: {
        const unreachable: never = message;
        this.host.log("warn", `Unhandled webview message ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private onReady(protocolVersion: number): void {
    this.readyCount += 1;
    if (protocolVersion !== WEBVIEW_PROTOCOL_VERSION) {
      this.host.log("error", `The points webview speaks protocol ${protocolVersion}, the extension ${WEBVIEW_PROTOCOL_VERSION}`);
      this.post({ type: "notice", level: "error", message: "The panel is out of date with the extension; reload the window." });
    }
    if (this.image !== undefined) this.post(this.showImageMessage(this.image));
    if (this.engine !== undefined) this.post(this.engine);
    this.replayTranscript();
  }

  /** The current answer in as few messages as possible: started, everything streamed, and how it ended. */
  private replayTranscript(): void {
    const transcript = this.transcript;
    if (transcript === undefined) return;
    const { requestId } = transcript;
    this.post({ type: "answerStarted", requestId, task: transcript.task, question: transcript.question });
    if (transcript.final?.type === "answerDone") {
      this.post(transcript.final);
      return;
    }
    if (transcript.text !== "" || transcript.points.length > 0) {
      this.post({ type: "answerDelta", requestId, textDelta: transcript.text, ...(transcript.points.length > 0 ? { points: transcript.points } : {}) });
    }
    if (transcript.final !== undefined) this.post(transcript.final);
  }

  private onPartial(transcript: Transcript, partial: MolmoAskPartialResult): void {
    if (transcript.final !== undefined || this.transcript !== transcript) {
      // A late progress message of a question that already ended or was replaced.
      return;
    }
    transcript.text += partial.textDelta;
    if (partial.points !== undefined) transcript.points.push(...partial.points);
    this.post({
      type: "answerDelta",
      requestId: transcript.requestId,
      textDelta: partial.textDelta,
      ...(partial.points !== undefined && partial.points.length > 0 ? { points: partial.points } : {}),
    });
  }

  private finish(transcript: Transcript, final: NonNullable<Transcript["final"]>): void {
    transcript.final = final;
    if (this.transcript === transcript) this.post(final);
  }

  private async savePng(pngBase64: string, suggestedName: string): Promise<void> {
    const bytes = Buffer.from(pngBase64, "base64");
    if (!isPng(bytes)) {
      this.host.log("warn", "The webview sent an annotated image that is not a PNG; not saved");
      this.post({ type: "notice", level: "error", message: "The annotated image could not be made (not a PNG)." });
      return;
    }
    try {
      const saved = await this.host.savePng(bytes, safePngName(suggestedName));
      if (saved !== undefined) this.post({ type: "notice", level: "info", message: `Saved ${saved}.` });
    } catch (error) {
      this.post({ type: "notice", level: "error", message: `Could not save the image: ${errorMessageOf(error)}` });
    }
  }

  private showImageMessage(image: PanelImage): HostToViewMessage {
    return {
      type: "showImage",
      uri: image.webviewUri,
      fileName: image.fileName,
      ...(image.width !== undefined ? { width: image.width } : {}),
      ...(image.height !== undefined ? { height: image.height } : {}),
    };
  }

  private post(message: HostToViewMessage): void {
    if (this.disposed) return;
    // Recorded in posting order at once; whether it arrived is filled in when VS Code answers.
    const record: PostRecord = { message, delivered: undefined };
    this.posts.push(record);
    if (this.posts.length > MAX_POST_RECORDS) this.posts.splice(0, this.posts.length - MAX_POST_RECORDS);
    const failed = (error: unknown): void => {
      record.delivered = false;
      this.host.log("warn", `Posting ${message.type} to the webview failed: ${errorMessageOf(error)}`);
    };
    try {
      const sent = this.host.post(message);
      if (typeof sent === "boolean") {
        record.delivered = sent;
      } else {
        sent.then((delivered) => (record.delivered = delivered), failed);
      }
    } catch (error) {
      failed(error);
    }
  }

  /** Cancels what runs and stops posting. */
  dispose(): void {
    this.cancelRunning();
    this.disposed = true;
    this.receiveListeners.clear();
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > PNG_SIGNATURE.length && PNG_SIGNATURE.every((byte, i) => bytes[i] === byte);
}

/**
 * A file name for the save dialog from the webview's suggestion: the last path segment only (the webview
 * must not choose folders), unsafe characters replaced, `.png` ensured.
 */
export function safePngName(suggested: string): string {
  const last = suggested.split(/[\\/]/).pop() ?? "";
  // eslint-disable-next-line no-control-regex
  const cleaned = last.replace(/[\u0000-\u001f<>:"|?*]/g, "_").replace(/^\.+/, "").trim().slice(0, 200);
  const base = cleaned === "" ? "molmo-annotated" : cleaned;
  return /\.png$/i.test(base) ? base : `${base.replace(/\.[A-Za-z0-9]{1,5}$/, "")}.png`;
}
