/**
 * The custom requests of server/protocol/molmo-protocol.ts over LSP: `molmo/ask` (with work-done progress and
 * the answer streamed as partial results), `molmo/status`, `molmo/models`, `molmo/selectModel`, and the
 * `molmo/statusChanged` notification on every change of the engine host's status.
 */
import { ProgressType, RequestType, RequestType0, type CancellationToken, type Connection } from "vscode-languageserver/node";
import type { HostStage } from "../host/engine-host";
import { HostError } from "../host/host-errors";
import {
  MOLMO_TASK_NAMES,
  MolmoMethods,
  type MolmoAskParams,
  type MolmoAskPartialResult,
  type MolmoAskResult,
  type MolmoErrorData,
  type MolmoGenerationOptions,
  type MolmoModelsResult,
  type MolmoPoint,
  type MolmoSelectModelParams,
  type MolmoStatus,
  type MolmoTaskName,
} from "../protocol/molmo-protocol";
import { resolveDocumentImage } from "./document-images";
import { signalOf, type FeatureContext } from "./feature-context";
import { toResponseError } from "./response-errors";

const AskRequest = new RequestType<MolmoAskParams, MolmoAskResult, MolmoErrorData>(MolmoMethods.ask);
const StatusRequest = new RequestType0<MolmoStatus, MolmoErrorData>(MolmoMethods.status);
const ModelsRequest = new RequestType0<MolmoModelsResult, MolmoErrorData>(MolmoMethods.models);
const SelectModelRequest = new RequestType<MolmoSelectModelParams, MolmoStatus, MolmoErrorData>(MolmoMethods.selectModel);
const AskPartialResult = new ProgressType<MolmoAskPartialResult>();

/** Registers the molmo/* request handlers on `connection`. */
export function registerMolmoRequests(connection: Connection, context: FeatureContext): void {
  connection.onRequest(AskRequest, (params, token) => ask(connection, context, params, token));
  connection.onRequest(StatusRequest, () => context.host.status());
  connection.onRequest(ModelsRequest, async () => {
    try {
      return { models: await context.host.listModels() };
    } catch (error) {
      throw toResponseError(error);
    }
  });
  connection.onRequest(SelectModelRequest, async (params) => {
    try {
      if (typeof params?.path !== "string" || params.path.trim() === "") {
        throw new HostError("bad_request", "molmo/selectModel needs the model bundle's folder as 'path'.");
      }
      return await context.host.configure({ modelPath: params.path });
    } catch (error) {
      throw toResponseError(error);
    }
  });
}

/** Sends `molmo/statusChanged` on every change of the host's status; returns the subscription. */
export function forwardStatusChanges(connection: Connection, context: FeatureContext): { dispose(): void } {
  return context.host.onDidChangeStatus((status) => {
    void connection.sendNotification(MolmoMethods.statusChanged, status).catch((error: unknown) => {
      context.logger.debug(`molmo/statusChanged was not sent: ${error instanceof Error ? error.message : String(error)}`);
    });
  });
}

async function ask(connection: Connection, context: FeatureContext, raw: unknown, token: CancellationToken): Promise<MolmoAskResult> {
  const cancel = signalOf(token);
  let progress: ReturnType<Connection["languages"]["attachWorkDoneProgress"]> | undefined;
  let stream: PartialResultStream | undefined;
  try {
    const params = parseAskParams(raw);
    progress = connection.languages.attachWorkDoneProgress(params);
    const partial = connection.languages.attachPartialResultProgress(AskPartialResult, params);
    stream = partial !== undefined ? new PartialResultStream((value) => partial.report(value)) : undefined;
    progress.begin("Molmo", undefined, "Reading the image", true);
    const image = await resolveDocumentImage(params.image, params.documentUri, context.roots.paths(), context.settings.current);
    const reporter = progress;
    const partials = stream;
    const result = await context.host.ask({
      image,
      ...(params.task !== undefined ? { task: params.task } : {}),
      ...(params.question !== undefined ? { question: params.question } : {}),
      // The molmo.maxCrops setting is the default; a request's own options win.
      options: { ...(context.settings.current.maxCrops !== undefined ? { maxCrops: context.settings.current.maxCrops } : {}), ...params.options },
      ...(params.timeoutMs !== undefined ? { timeoutMs: params.timeoutMs } : {}),
      signal: cancel.signal,
      onStage: (stage) => reporter.report(stageMessage(stage)),
      ...(partials !== undefined ? { onText: (delta: string) => partials.addText(delta), onPoints: (points: MolmoPoint[]) => partials.addPoints(points) } : {}),
    });
    // The last piece goes out before the answer, so a client has every partial result when the answer arrives.
    stream?.flush();
    return result;
  } catch (error) {
    throw toResponseError(error);
  } finally {
    stream?.dispose();
    progress?.done();
    cancel.dispose();
  }
}

/** Milliseconds partial results are gathered for before they are sent (about a frame of the client's UI). */
const PARTIAL_RESULT_INTERVAL_MS = 16;

/**
 * Streams an answer as partial results, coalesced: the first piece is sent at once (time to first token
 * matters), later ones at most every {@link PARTIAL_RESULT_INTERVAL_MS}. A small model writes a token every
 * millisecond or two, and a notification per token would cost more than the tokens themselves; a large one
 * is slower than the interval, so it still streams token by token.
 */
export class PartialResultStream {
  private text = "";
  private points: MolmoPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sentAny = false;

  constructor(
    private readonly send: (value: MolmoAskPartialResult) => void,
    private readonly intervalMs = PARTIAL_RESULT_INTERVAL_MS,
  ) {}

  addText(delta: string): void {
    this.text += delta;
    this.schedule();
  }

  addPoints(points: readonly MolmoPoint[]): void {
    this.points.push(...points);
    this.schedule();
  }

  /** Sends what has been gathered, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.text === "" && this.points.length === 0) {
      return;
    }
    const value: MolmoAskPartialResult = { textDelta: this.text, ...(this.points.length > 0 ? { points: this.points } : {}) };
    this.text = "";
    this.points = [];
    this.sentAny = true;
    this.send(value);
  }

  /** Drops what has not been sent (the request failed). */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.text = "";
    this.points = [];
  }

  private schedule(): void {
    if (!this.sentAny) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
    }
  }
}

function stageMessage(stage: HostStage): string {
  switch (stage.kind) {
    case "queued":
      return `Waiting behind ${stage.position} other request${stage.position === 1 ? "" : "s"}`;
    case "loading":
      return `Loading the model ${stage.model}`;
    case "generating":
      return "Generating";
  }
}

/**
 * Checks `molmo/ask` parameters' types (the host checks ranges).
 *
 * @throws {HostError} `bad_request` naming the first wrong field.
 */
export function parseAskParams(raw: unknown): MolmoAskParams {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new HostError("bad_request", "molmo/ask needs an object parameter: { image, question?, task?, documentUri?, options?, timeoutMs? }.");
  }
  const params = raw as Record<string, unknown>;
  if (typeof params.image !== "string") {
    throw new HostError("bad_request", "molmo/ask needs 'image': a path, a file: URI or a data: URI.");
  }
  optional(params, "question", "a string", (value) => typeof value === "string");
  optional(params, "task", `one of ${MOLMO_TASK_NAMES.join(", ")}`, (value) => MOLMO_TASK_NAMES.includes(value as MolmoTaskName));
  optional(params, "documentUri", "a URI string", (value) => typeof value === "string");
  optional(params, "timeoutMs", "a number", (value) => typeof value === "number");
  optional(params, "workDoneToken", "a string or number", isProgressToken);
  optional(params, "partialResultToken", "a string or number", isProgressToken);
  optional(params, "options", "an object", (value) => typeof value === "object" && value !== null && !Array.isArray(value));
  const options = params.options as Record<string, unknown> | undefined;
  for (const field of ["maxNewTokens", "temperature", "topK", "topP", "seed", "maxCrops"] satisfies Array<keyof MolmoGenerationOptions>) {
    if (options !== undefined && options[field] !== undefined && typeof options[field] !== "number") {
      throw new HostError("bad_request", `molmo/ask: options.${field} must be a number, got ${JSON.stringify(options[field])}.`);
    }
  }
  if (options !== undefined && options.answerPrefix !== undefined && typeof options.answerPrefix !== "string") {
    throw new HostError("bad_request", `molmo/ask: options.answerPrefix must be a string, got ${JSON.stringify(options.answerPrefix)}.`);
  }
  // Null stands for "not given", as JSON clients often write it.
  const given = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== null && value !== undefined));
  return given as unknown as MolmoAskParams;
}

function optional(params: Record<string, unknown>, field: string, expected: string, check: (value: unknown) => boolean): void {
  const value = params[field];
  if (value !== undefined && value !== null && !check(value)) {
    throw new HostError("bad_request", `molmo/ask: '${field}' must be ${expected}, got ${JSON.stringify(value)}.`);
  }
}

function isProgressToken(value: unknown): boolean {
  return typeof value === "string" || typeof value === "number";
}
