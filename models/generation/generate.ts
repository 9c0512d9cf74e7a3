/**
 * The decode loop: prefill once, then choose a token, stream it, check the stop criteria and step the
 * model with it, until a stop token, the token budget, or the caller's AbortSignal.
 *
 * Cancellation is checked before the prefill, after every model call and after every stream event. A
 * model call in flight is never interrupted (onnxruntime-node cannot stop a run that has started); when it
 * returns after the signal fired, its state is released and the generation rejects with an EngineError
 * `cancelled` (name "AbortError") without emitting another token. Between steps the loop yields to the
 * event loop once, so an abort that arrives as an I/O event (an LSP `$/cancelRequest`, a closed MCP
 * connection) is seen before the next step even when the model itself never waits on I/O.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { cancelledError } from "../engine/errors";
import { silentLogger, type Logger } from "../engine/logger";
import { resolveGenerationConfig, type GenerationConfig, type GenerationOptions } from "./config";
import type { AutoregressiveModel } from "./model";
import { TokenSelector } from "./sampler";
import { buildStoppingCriteria, checkStop, type StopReason } from "./stopping-criteria";
import type { StreamListener, TokenTextStreamer } from "./streamer";

/** One generation request. */
export interface GenerateRequest<Inputs, State> {
  readonly model: AutoregressiveModel<Inputs, State>;
  /** What the model's prefill takes (embeddings, attention mask, ... for the ONNX engine). */
  readonly inputs: Inputs;
  /** Options to check, or a configuration already resolved. */
  readonly config?: GenerationOptions | GenerationConfig;
  /** Detokenises generated ids into text deltas (the tokenizer's `createTextStreamer()`). */
  readonly streamer?: TokenTextStreamer;
  /** Receives each token and its text delta as soon as it is chosen. */
  readonly onStream?: StreamListener;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/** Where the time went, in milliseconds. */
export interface GenerationTimings {
  /** The prefill call (prompt and image features through the decoder). */
  readonly prefillMs: number;
  /** From the call to the first token chosen and streamed. */
  readonly timeToFirstTokenMs: number;
  /** All step calls together. */
  readonly decodeMs: number;
  /** Tokens produced by steps per second of decode time (0 when there was no step). */
  readonly decodeTokensPerSecond: number;
}

/** What a finished generation produced. */
export interface GenerationResult {
  /** Generated ids, in order; a stop token that ended the generation is the last one. */
  readonly tokenIds: number[];
  /** The concatenated text deltas (with the final flush); "" without a streamer. */
  readonly text: string;
  readonly stopReason: StopReason;
  /** The configuration used, including the seed actually drawn when none was given. */
  readonly config: GenerationConfig;
  readonly timings: GenerationTimings;
}

/**
 * Generates tokens from `model`.
 *
 * @throws {EngineError} `invalid_option` for bad settings, `invalid_logits` for unusable model output,
 *   `cancelled` when the signal fires; errors of the model and of the stream listener pass through. In
 *   every case the model state is released first.
 */
export async function generate<Inputs, State>(request: GenerateRequest<Inputs, State>): Promise<GenerationResult> {
  const { model, signal } = request;
  const logger = request.logger ?? silentLogger;
  const config = isResolved(request.config) ? request.config : resolveGenerationConfig(request.config);
  const selector = new TokenSelector(config);
  const criteria = buildStoppingCriteria(config);
  const emit: StreamListener = request.onStream ?? (() => undefined);
  const throwIfCancelled = (): void => {
    if (signal?.aborted === true) {
      throw cancelledError(signal);
    }
  };
  logger.debug(`Generating up to ${config.maxNewTokens} tokens (${selector.describe()}).`);

  throwIfCancelled();
  const started = performance.now();
  const first = await model.prefill(request.inputs, { signal });
  const prefillMs = performance.now() - started;
  let state = first.state;
  let logits = first.logits;

  try {
    const generated: number[] = [];
    let text = "";
    let timeToFirstTokenMs = 0;
    let decodeMs = 0;
    let steps = 0;
    for (;;) {
      throwIfCancelled();
      const token = selector.select(logits, generated.length);
      generated.push(token);
      const delta = request.streamer?.push(token) ?? "";
      text += delta;
      if (generated.length === 1) {
        timeToFirstTokenMs = performance.now() - started;
      }
      emit({ type: "token", tokenId: token, index: generated.length - 1, text: delta });
      throwIfCancelled();

      const stopReason = checkStop(criteria, generated);
      if (stopReason !== undefined) {
        const tail = request.streamer?.flush() ?? "";
        text += tail;
        emit({ type: "end", text: tail, stopReason });
        return {
          tokenIds: generated,
          text,
          stopReason,
          config,
          timings: { prefillMs, timeToFirstTokenMs, decodeMs, decodeTokensPerSecond: decodeMs > 0 ? (steps * 1000) / decodeMs : 0 },
        };
      }

      await yieldToEventLoop();
      throwIfCancelled();
      const stepStarted = performance.now();
      const next = await model.step(token, state, { signal });
      decodeMs += performance.now() - stepStarted;
      steps++;
      if (next.state !== state) {
        const previous = state;
        // Take ownership of the new state before releasing the old one, so a failing release cannot
        // leave the new state unreleased.
        state = next.state;
        await releaseState(model, previous, logger);
      }
      logits = next.logits;
    }
  } finally {
    await releaseState(model, state, logger);
  }
}

function isResolved(config: GenerateRequest<unknown, unknown>["config"]): config is GenerationConfig {
  return config !== undefined && typeof (config as GenerationConfig).greedy === "boolean" && typeof (config as GenerationConfig).seed === "number";
}

/** Releases a state; a failure to release is logged, never allowed to hide the generation's own outcome. */
async function releaseState<Inputs, State>(model: AutoregressiveModel<Inputs, State>, state: State, logger: Logger): Promise<void> {
  if (model.release === undefined) {
    return;
  }
  try {
    await model.release(state);
  } catch (error) {
    logger.warn(`Releasing the model state failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
