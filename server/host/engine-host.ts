/**
 * The engine host: the one Molmo engine a server process runs, shared by its LSP and MCP front ends.
 *
 * - The model loads lazily, on the first request (or at start with `load()`); requests that arrive while it
 *   loads wait for the same load. A failed load puts the host in the `error` state and the next request tries
 *   again (the user may have fixed the bundle or the setting meanwhile).
 * - One generation at a time: a GPU runs one well, and two would only slow both. Requests wait in a bounded
 *   first-come queue; past its bound a request fails at once with `busy`, so a flood of calls cannot pile up
 *   unbounded work.
 * - Every request can be cancelled (its AbortSignal) and has a time limit (queue time included); a request
 *   cancelled while queued leaves the queue at once, a running one stops at the next token.
 * - Whatever one request throws fails that request only, as a typed {@link HostError}.
 */
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { AskRequest, AskResult, MolmoEngine, MolmoEngineOptions } from "../../models/engine/molmo-engine";
import { silentLogger, type Logger } from "../../models/engine/logger";
import type { ParsedPoint } from "../../models/points/types";
import type { MolmoTask } from "../../models/prompt/tasks";
import type {
  MolmoAskResult,
  MolmoEngineState,
  MolmoGenerationOptions,
  MolmoModelInfo,
  MolmoModelRef,
  MolmoPoint,
  MolmoStatus,
  MolmoTaskName,
} from "../protocol/molmo-protocol";
import { HostError, toHostError } from "./host-errors";
import type { ResolvedImage } from "./image-access";
import { describeBundle, findBundles, type BundleSummary } from "./model-catalog";
import { fetchRemoteImage } from "./remote-image";

/** What the host needs of an engine (the real `MolmoEngine`; tests pass one that blocks or fails on demand). */
export type HostEngine = Pick<MolmoEngine, "ask" | "dispose" | "ep" | "loadMs" | "stats">;

/** Opens an engine on a bundle. */
export type EngineLoader = (bundleDir: string, options: MolmoEngineOptions) => Promise<HostEngine>;

/** How the host runs. */
export interface EngineHostOptions {
  /** The model bundle; without one, requests fail with `no_model` until {@link EngineHost.configure} sets one. */
  readonly modelPath?: string;
  /** Execution provider: `auto` (default), `cpu`, `webgpu`, ... */
  readonly ep?: string;
  /** A tokenizer.json for bundles exported without one. */
  readonly tokenizerPath?: string;
  /** Folders searched for bundles by {@link EngineHost.listModels}. */
  readonly modelFolders?: readonly string[];
  readonly logger?: Logger;
  /** Requests that may wait behind the running one (default 16). */
  readonly maxQueue?: number;
  /** Time limit of a request that sets none, queue time included (default 5 minutes). */
  readonly defaultTimeoutMs?: number;
  /** Byte budget of the image-feature cache (the engine's default when omitted). */
  readonly featureCacheBytes?: number;
  /** onnxruntime threads per session (its default when omitted). */
  readonly intraOpNumThreads?: number;
  /** Crop limit of requests that set none (`--max-crops`); the bundle's own when omitted. */
  readonly defaultMaxCrops?: number;
  /** Opens engines; the real loader by default. */
  readonly loadEngine?: EngineLoader;
}

/** One question, its image already resolved by the protocol layer. */
export interface HostAskRequest {
  readonly image: ResolvedImage;
  readonly task?: MolmoTaskName;
  /** The question (`ask`), or what to point at / count (`point`, `count`). */
  readonly question?: string;
  readonly options?: MolmoGenerationOptions;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /** The answer's text, delta by delta. */
  readonly onText?: (delta: string) => void;
  /** Points as soon as their tags complete. */
  readonly onPoints?: (points: MolmoPoint[]) => void;
  /** Where the request is: waiting (with its place in the queue), loading the model, generating. */
  readonly onStage?: (stage: HostStage) => void;
}

/** Progress of a request before its first token. */
export type HostStage = { readonly kind: "queued"; readonly position: number } | { readonly kind: "loading"; readonly model: string } | { readonly kind: "generating" };

/** Limits on request parameters (the protocol layers validate types; the host validates ranges). */
export const HOST_LIMITS = {
  maxNewTokens: 2048,
  maxQuestionChars: 8000,
  maxTimeoutMs: 60 * 60 * 1000,
  maxCrops: 64,
} as const;

const DEFAULT_MAX_QUEUE = 16;
const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;
const TASKS: readonly MolmoTaskName[] = ["ask", "point", "count", "caption", "clock"];

interface Job {
  readonly controller: AbortController;
  /** Resolves when the job may run. */
  readonly start: () => void;
}

interface LoadedEngine {
  readonly engine: HostEngine;
  readonly model: BundleSummary;
  /** The provider it runs on. */
  readonly ep: string;
  /** The provider that was asked for when it loaded (`auto` may have picked any). */
  readonly requestedEp: string;
}

type Listener = (status: MolmoStatus) => void;

/** The shared engine host. */
export class EngineHost {
  private modelPath: string | undefined;
  private requestedEp: string;
  private readonly options: EngineHostOptions;
  private readonly logger: Logger;
  private readonly maxQueue: number;
  private loaded: LoadedEngine | undefined;
  private loading: Promise<LoadedEngine> | undefined;
  private loadError: HostError | undefined;
  private running = false;
  private readonly waiting: Job[] = [];
  private readonly listeners = new Set<Listener>();
  private disposed = false;
  private lastLoadMs: number | undefined;

  constructor(options: EngineHostOptions = {}) {
    this.options = options;
    this.modelPath = options.modelPath !== undefined ? resolve(options.modelPath) : undefined;
    this.requestedEp = options.ep ?? "auto";
    this.logger = options.logger ?? silentLogger;
    this.maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  }

  /** The host's state, model and queue. */
  status(): MolmoStatus {
    const state: MolmoEngineState = this.running && this.loaded !== undefined
      ? "busy"
      : this.loading !== undefined
        ? "loading"
        : this.loaded !== undefined
          ? "ready"
          : this.loadError !== undefined
            ? "error"
            : "unloaded";
    const model = this.loaded !== undefined ? modelRef(this.loaded.model) : this.modelPath !== undefined ? this.unloadedModelRef(this.modelPath) : undefined;
    const cache = this.loaded?.engine.stats().featureCache;
    return {
      state,
      ...(model !== undefined ? { model } : {}),
      ...(this.loaded !== undefined ? { ep: this.loaded.ep } : {}),
      requestedEp: this.requestedEp,
      queue: { running: this.running ? 1 : 0, waiting: this.waiting.length, limit: this.maxQueue },
      ...(state === "error" && this.loadError !== undefined ? { error: { code: this.loadError.code, message: this.loadError.message } } : {}),
      ...(this.lastLoadMs !== undefined ? { loadMs: Math.round(this.lastLoadMs) } : {}),
      ...(cache !== undefined ? { featureCache: { entries: cache.entries, bytes: cache.bytes, hits: cache.hits, misses: cache.misses } } : {}),
    };
  }

  /** Calls `listener` with the new status whenever the state, model or queue changes. */
  onDidChangeStatus(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /**
   * Changes the model or execution provider. A loaded engine that no longer matches is unloaded as soon as
   * no request runs on it; the next request loads the new one.
   *
   * @throws {HostError} `model_load_failed` when `modelPath` is not a Molmo bundle (checked from its config.json).
   */
  async configure(change: { modelPath?: string | undefined; ep?: string }): Promise<MolmoStatus> {
    const modelPath = change.modelPath !== undefined ? (await describeBundle(change.modelPath)).path : undefined;
    const modelChanged = "modelPath" in change && modelPath !== this.modelPath;
    const epChanged = change.ep !== undefined && change.ep !== this.requestedEp;
    if (!modelChanged && !epChanged) {
      return this.status();
    }
    if ("modelPath" in change) {
      this.modelPath = modelPath;
    }
    if (change.ep !== undefined) {
      this.requestedEp = change.ep;
    }
    this.loadError = undefined;
    this.logger.info(`Model set to ${this.modelPath ?? "(none)"} on execution provider ${this.requestedEp}.`);
    if (!this.running) {
      await this.unloadStale();
    }
    this.emit();
    return this.status();
  }

  /**
   * Loads the configured model now (the server's eager-load flag); requests arriving meanwhile wait for it.
   *
   * @throws {HostError} `no_model`, `model_load_failed`, `disposed`.
   */
  async load(): Promise<void> {
    await this.engineForRequest();
  }

  /** The configured model and the bundles in the model folders. */
  async listModels(): Promise<MolmoModelInfo[]> {
    const found = await findBundles(this.options.modelFolders ?? []);
    if (this.modelPath !== undefined && !found.some((model) => model.path === this.loaded?.model.path || model.path === this.modelPath)) {
      try {
        found.unshift(await describeBundle(this.modelPath));
      } catch (error) {
        this.logger.warn(`The configured model cannot be listed: ${(error as Error).message}`);
      }
    }
    const selected = this.loaded?.model.path ?? this.modelPath;
    return found.map((model) => ({
      ...model,
      selected: model.path === selected || model.path === this.modelPath,
      loaded: this.loaded?.model.path === model.path,
    }));
  }

  /**
   * Answers one question. Resolves with the answer; rejects with a {@link HostError} only.
   */
  async ask(request: HostAskRequest): Promise<MolmoAskResult> {
    const received = performance.now();
    const task = checkRequest(request);
    if (this.disposed) {
      throw new HostError("disposed", "The Molmo server is shutting down.");
    }
    if (this.modelPath === undefined && this.loaded === undefined) {
      throw new HostError("no_model", "No Molmo model is configured. Set the model bundle (setting molmo.model.path, or --model) to a folder made by `molmo export`.");
    }
    const timeoutMs = request.timeoutMs ?? this.options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new HostError("timeout", `The request took longer than its time limit of ${timeoutMs} ms.`)), timeoutMs);
    const onCallerAbort = () => controller.abort(new HostError("cancelled", "The request was cancelled."));
    if (request.signal?.aborted === true) {
      clearTimeout(timer);
      throw new HostError("cancelled", "The request was cancelled.");
    }
    request.signal?.addEventListener("abort", onCallerAbort, { once: true });
    let queuedMs = 0;
    let modelLoadMs = 0;
    let holdsSlot = false;
    try {
      await this.waitForSlot(controller, request.onStage);
      holdsSlot = true;
      queuedMs = performance.now() - received;
      const loadStarted = performance.now();
      const hadEngine = this.loaded !== undefined && !this.isStale(this.loaded);
      const loaded = await abortable(this.engineForRequest(request.onStage), controller.signal);
      modelLoadMs = hadEngine ? 0 : performance.now() - loadStarted;
      throwIfAborted(controller.signal);
      const image = await this.engineImage(request.image, controller.signal);
      request.onStage?.({ kind: "generating" });
      this.emit();
      const result = await loaded.engine.ask({
        image,
        ...promptFields(task, request.question),
        ...generationFields(request.options, this.options.defaultMaxCrops),
        signal: controller.signal,
        ...(request.onText !== undefined ? { onText: request.onText } : {}),
        ...(request.onPoints !== undefined ? { onPoints: (points: ParsedPoint[]) => request.onPoints?.(points.map(toMolmoPoint)) } : {}),
      });
      return toAskResult(result, { task, model: loaded.model, queuedMs, modelLoadMs, totalMs: performance.now() - received, image: request.image });
    } catch (error) {
      throw this.failure(error, controller.signal);
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onCallerAbort);
      if (holdsSlot) {
        await this.releaseSlot();
      }
    }
  }

  /** Unloads the model and refuses further requests; waiting requests fail with `disposed`. */
  async dispose(): Promise<void> {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    for (const job of this.waiting.splice(0)) {
      job.controller.abort(new HostError("disposed", "The Molmo server is shutting down."));
    }
    const loading = this.loading;
    if (loading !== undefined) {
      await loading.catch(() => undefined);
    }
    const loaded = this.loaded;
    this.loaded = undefined;
    await loaded?.engine.dispose();
    this.listeners.clear();
  }

  /** The error a failed request rejects with: the abort reason when the request was aborted. */
  private failure(error: unknown, signal: AbortSignal): HostError {
    if (signal.aborted && signal.reason instanceof HostError) {
      return signal.reason;
    }
    const failure = toHostError(error);
    if (failure.code === "engine_failed" || failure.code === "out_of_memory") {
      this.logger.error(`A request failed inside the engine: ${failure.message}`);
    }
    return failure;
  }

  /** Waits until this request may run: at once when nothing runs, else in the queue. */
  private waitForSlot(controller: AbortController, onStage: HostAskRequest["onStage"]): Promise<void> {
    if (!this.running && this.waiting.length === 0) {
      this.running = true;
      this.emit();
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(
        new HostError("busy", `Molmo is busy: ${this.waiting.length} requests are already waiting (the limit). Try again when the current answers are done.`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const job: Job = {
        controller,
        start: () => {
          controller.signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(job);
        if (index >= 0) {
          this.waiting.splice(index, 1);
          this.emit();
        }
        reject(controller.signal.reason instanceof Error ? controller.signal.reason : new HostError("cancelled", "The request was cancelled."));
      };
      controller.signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(job);
      onStage?.({ kind: "queued", position: this.waiting.length });
      this.emit();
    });
  }

  /** Hands the slot to the next waiting request (after unloading a model that was reconfigured away). */
  private async releaseSlot(): Promise<void> {
    try {
      await this.unloadStale();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) {
        next.start();
      } else {
        this.running = false;
      }
      this.emit();
    }
  }

  /** The loaded engine, loading the configured model first when needed. */
  private async engineForRequest(onStage?: HostAskRequest["onStage"]): Promise<LoadedEngine> {
    if (this.disposed) {
      throw new HostError("disposed", "The Molmo server is shutting down.");
    }
    await this.unloadStale();
    if (this.loaded !== undefined) {
      return this.loaded;
    }
    const modelPath = this.modelPath;
    if (modelPath === undefined) {
      throw new HostError("no_model", "No Molmo model is configured. Set the model bundle (setting molmo.model.path, or --model) to a folder made by `molmo export`.");
    }
    onStage?.({ kind: "loading", model: modelPath });
    if (this.loading === undefined) {
      this.loading = this.loadEngine(modelPath, this.requestedEp);
      this.emit();
      void this.loading.then(
        (loaded) => {
          this.loaded = loaded;
          this.loadError = undefined;
        },
        (error: unknown) => {
          this.loadError = toLoadError(error, modelPath);
          this.logger.error(this.loadError.message);
        },
      ).finally(() => {
        this.loading = undefined;
        this.emit();
      });
    }
    try {
      return await this.loading;
    } catch (error) {
      throw toLoadError(error, modelPath);
    }
  }

  private async loadEngine(modelPath: string, ep: string): Promise<LoadedEngine> {
    const started = performance.now();
    const model = await describeBundle(modelPath);
    const loader = this.options.loadEngine ?? defaultLoader;
    const engine = await loader(model.path, {
      ep,
      logger: this.logger,
      ...(this.options.tokenizerPath !== undefined ? { tokenizerPath: this.options.tokenizerPath } : {}),
      ...(this.options.featureCacheBytes !== undefined ? { featureCacheBytes: this.options.featureCacheBytes } : {}),
      ...(this.options.intraOpNumThreads !== undefined ? { intraOpNumThreads: this.options.intraOpNumThreads } : {}),
    });
    this.lastLoadMs = performance.now() - started;
    this.logger.info(`Model ${model.name} (${model.variant}, ${model.dtype}) ready on ${engine.ep} after ${Math.round(this.lastLoadMs)} ms.`);
    return { engine, model, ep: engine.ep, requestedEp: ep };
  }

  /** Disposes a loaded engine whose model or provider is no longer the configured one. */
  private async unloadStale(): Promise<void> {
    const loaded = this.loaded;
    if (loaded === undefined) {
      return;
    }
    if (!this.isStale(loaded)) {
      return;
    }
    this.loaded = undefined;
    this.logger.info(`Unloading ${loaded.model.name}: the configured model or execution provider changed.`);
    await loaded.engine.dispose();
    this.emit();
  }

  /** Whether a loaded engine is no longer the configured model on the configured provider. */
  private isStale(loaded: LoadedEngine): boolean {
    return loaded.model.path !== this.modelPath || loaded.requestedEp !== this.requestedEp;
  }

  /** What the engine reads: the file path or data URI as is, remote images fetched within the limits. */
  private async engineImage(image: ResolvedImage, signal: AbortSignal): Promise<AskRequest["image"]> {
    switch (image.kind) {
      case "file":
        return image.path;
      case "data":
        return image.uri;
      case "remote":
        return { bytes: await fetchRemoteImage(image.url, { signal }), name: image.url };
    }
  }

  private unloadedModelRef(path: string): MolmoModelRef {
    const name = path.split(/[\\/]/).filter((part) => part !== "").pop() ?? path;
    return { name, path, variant: "unknown", dtype: "unknown" };
  }

  private emit(): void {
    if (this.listeners.size === 0) {
      return;
    }
    const status = this.status();
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (error) {
        this.logger.warn(`A status listener failed: ${(error as Error).message}`);
      }
    }
  }
}

async function defaultLoader(bundleDir: string, options: MolmoEngineOptions): Promise<HostEngine> {
  // Required on first use, so the server starts (and answers `initialize`) without loading onnxruntime and sharp.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const engineModule = require("../../models/engine/molmo-engine") as typeof import("../../models/engine/molmo-engine");
  return engineModule.MolmoEngine.load(bundleDir, options);
}

function toLoadError(error: unknown, modelPath: string): HostError {
  if (error instanceof HostError && (error.code === "model_load_failed" || error.code === "disposed" || error.code === "no_model")) {
    return error;
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new HostError("model_load_failed", `The model ${modelPath} could not be loaded: ${reason}`, { cause: error });
}

/** Checks a request's fields; returns its task. */
function checkRequest(request: HostAskRequest): MolmoTaskName {
  const task = request.task ?? "ask";
  if (!TASKS.includes(task)) {
    throw new HostError("bad_request", `Unknown task '${String(task)}': use one of ${TASKS.join(", ")}.`);
  }
  const question = request.question?.trim() ?? "";
  if ((task === "ask" || task === "point" || task === "count") && question === "") {
    const what = task === "ask" ? "a question" : task === "point" ? "what to point at" : "what to count";
    throw new HostError("bad_request", `The ${task} task needs ${what}.`);
  }
  if (question.length > HOST_LIMITS.maxQuestionChars) {
    throw new HostError("bad_request", `The question is ${question.length} characters long; the limit is ${HOST_LIMITS.maxQuestionChars}.`);
  }
  if (request.timeoutMs !== undefined && !(Number.isFinite(request.timeoutMs) && request.timeoutMs > 0 && request.timeoutMs <= HOST_LIMITS.maxTimeoutMs)) {
    throw new HostError("bad_request", `timeoutMs must be a number of milliseconds in (0, ${HOST_LIMITS.maxTimeoutMs}], got ${String(request.timeoutMs)}.`);
  }
  const options = request.options ?? {};
  const { maxNewTokens, temperature, topK, topP, seed, answerPrefix, maxCrops } = options;
  if (maxCrops !== undefined && !(Number.isInteger(maxCrops) && maxCrops >= 1 && maxCrops <= HOST_LIMITS.maxCrops)) {
    throw new HostError("bad_request", `maxCrops must be a whole number from 1 to ${HOST_LIMITS.maxCrops}, got ${String(maxCrops)}.`);
  }
  if (answerPrefix !== undefined && (typeof answerPrefix !== "string" || answerPrefix.length > HOST_LIMITS.maxQuestionChars)) {
    throw new HostError("bad_request", `answerPrefix must be a string of at most ${HOST_LIMITS.maxQuestionChars} characters.`);
  }
  if (maxNewTokens !== undefined && !(Number.isInteger(maxNewTokens) && maxNewTokens >= 1 && maxNewTokens <= HOST_LIMITS.maxNewTokens)) {
    throw new HostError("bad_request", `maxNewTokens must be a whole number from 1 to ${HOST_LIMITS.maxNewTokens}, got ${String(maxNewTokens)}.`);
  }
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0 && temperature <= 100)) {
    throw new HostError("bad_request", `temperature must be a number from 0 to 100, got ${String(temperature)}.`);
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) {
    throw new HostError("bad_request", `topK must be a whole number (0 turns it off), got ${String(topK)}.`);
  }
  if (topP !== undefined && !(Number.isFinite(topP) && topP > 0 && topP <= 1)) {
    throw new HostError("bad_request", `topP must be in (0, 1], got ${String(topP)}.`);
  }
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0)) {
    throw new HostError("bad_request", `seed must be a whole number, 0 or more, got ${String(seed)}.`);
  }
  return task;
}

function promptFields(task: MolmoTaskName, question: string | undefined): Pick<AskRequest, "prompt" | "task"> {
  const text = question?.trim() ?? "";
  const byTask: Record<MolmoTaskName, () => Pick<AskRequest, "prompt" | "task">> = {
    ask: () => ({ prompt: text }),
    point: () => ({ task: { kind: "point", label: text } satisfies MolmoTask }),
    count: () => ({ task: { kind: "count", label: text } satisfies MolmoTask }),
    caption: () => ({ task: { kind: "caption" } satisfies MolmoTask }),
    clock: () => ({ task: { kind: "clock" } satisfies MolmoTask }),
  };
  return byTask[task]();
}

function generationFields(options: MolmoGenerationOptions | undefined, defaultMaxCrops: number | undefined): Partial<AskRequest> {
  if (options === undefined) {
    return defaultMaxCrops !== undefined ? { maxCrops: defaultMaxCrops } : {};
  }
  return {
    ...(defaultMaxCrops !== undefined ? { maxCrops: defaultMaxCrops } : {}),
    ...(options.maxNewTokens !== undefined ? { maxNewTokens: options.maxNewTokens } : {}),
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(options.topP !== undefined ? { topP: options.topP } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.answerPrefix !== undefined && options.answerPrefix !== "" ? { answerPrefix: options.answerPrefix } : {}),
    ...(options.maxCrops !== undefined ? { maxCrops: options.maxCrops } : {}),
  };
}

/** A point as the protocols send it. */
export function toMolmoPoint(point: ParsedPoint): MolmoPoint {
  return {
    index: point.index,
    x: point.x,
    y: point.y,
    xPercent: point.xPercent,
    yPercent: point.yPercent,
    label: point.label,
    ...(point.alt !== undefined ? { alt: point.alt } : {}),
  };
}

function toAskResult(
  result: AskResult,
  context: { task: MolmoTaskName; model: BundleSummary; queuedMs: number; modelLoadMs: number; totalMs: number; image: ResolvedImage },
): MolmoAskResult {
  const t = result.timings;
  const model = modelRef(context.model);
  return {
    text: result.text,
    points: result.points.map(toMolmoPoint),
    count: result.count ?? null,
    image: { width: result.imageSize.width, height: result.imageSize.height, ...(context.image.kind === "file" ? { path: context.image.path } : {}) },
    task: context.task,
    prompt: result.prompt,
    stopReason: result.stopReason,
    generatedTokens: result.tokenIds.length,
    ep: result.ep,
    model,
    cache: result.cache.imageFeatures,
    timings: {
      queuedMs: round(context.queuedMs),
      modelLoadMs: round(context.modelLoadMs),
      imageLoadMs: round(t.imageLoadMs),
      preprocessMs: round(t.preprocessMs),
      visionMs: round(t.visionMs),
      prefillMs: round(t.prefillMs),
      decodeMs: round(t.decodeMs),
      timeToFirstTokenMs: round(t.timeToFirstTokenMs),
      decodeTokensPerSecond: round(t.decodeTokensPerSecond),
      totalMs: round(context.totalMs),
    },
  };
}

/** The protocol's model reference: the summary without its size. */
function modelRef(summary: BundleSummary): MolmoModelRef {
  return { name: summary.name, path: summary.path, variant: summary.variant, dtype: summary.dtype };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new HostError("cancelled", "The request was cancelled.");
  }
}

/** Waits for `promise`, or rejects as soon as `signal` fires (the promise itself goes on: a shared model load). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new HostError("cancelled", "The request was cancelled."));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new HostError("cancelled", "The request was cancelled."));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
