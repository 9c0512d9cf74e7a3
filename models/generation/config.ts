/**
 * Generation settings: what callers may pass ({@link GenerationOptions}) and the checked, complete form
 * the decode loop uses ({@link GenerationConfig}).
 *
 * Greedy or sampling: decoding is greedy unless sampling is asked for, either with `doSample: true` or with
 * a positive `temperature`; `temperature: 0` or `doSample: false` always means greedy. (Hugging Face
 * ignores a temperature unless `do_sample` is set; here a user who passes `--temperature 0.7` gets what
 * they meant.) Under greedy decoding `topK`, `topP` and `seed` have no effect.
 */
import { randomInt } from "node:crypto";
import { EngineError } from "../engine/errors";

/** The settings a caller may give; every field is optional. */
export interface GenerationOptions {
  /** Most tokens to generate, the stop token included. Default 200, as in Molmo's usage example. */
  readonly maxNewTokens?: number;
  /** Sample instead of taking the most likely token. Defaults to true when `temperature` > 0 is given. */
  readonly doSample?: boolean;
  /** Divides the logits before sampling; 0 means greedy. Default 1 when sampling. */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (ties at the k-th score kept too); 0 turns it off (default). */
  readonly topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 turns it off (default). */
  readonly topP?: number;
  /** Seed of the sampling generator (a non-negative safe integer); random when omitted, and reported. */
  readonly seed?: number;
  /** Token ids that end generation (the tokenizer's EOS, ...); the stop token is part of the output. */
  readonly stopTokenIds?: readonly number[];
}

/** Complete, checked settings. */
export interface GenerationConfig {
  readonly maxNewTokens: number;
  readonly greedy: boolean;
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
  readonly stopTokenIds: readonly number[];
}

/** Molmo's own usage example generates at most 200 new tokens. */
export const DEFAULT_MAX_NEW_TOKENS = 200;

/**
 * Checks options and fills in defaults.
 *
 * @throws {EngineError} `invalid_option` naming the option and what is accepted.
 */
export function resolveGenerationConfig(options: GenerationOptions = {}): GenerationConfig {
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  requireThat(Number.isSafeInteger(maxNewTokens) && maxNewTokens >= 1, "maxNewTokens", "a whole number of at least 1", maxNewTokens);
  const temperatureGiven = options.temperature;
  if (temperatureGiven !== undefined) {
    requireThat(Number.isFinite(temperatureGiven) && temperatureGiven >= 0, "temperature", "a finite number of at least 0", temperatureGiven);
  }
  if (options.doSample !== undefined) {
    requireThat(typeof options.doSample === "boolean", "doSample", "true or false", options.doSample);
  }
  const topK = options.topK ?? 0;
  requireThat(Number.isSafeInteger(topK) && topK >= 0, "topK", "a whole number of at least 0 (0 = off)", topK);
  const topP = options.topP ?? 1;
  requireThat(Number.isFinite(topP) && topP > 0 && topP <= 1, "topP", "a number in (0, 1] (1 = off)", topP);
  if (options.seed !== undefined) {
    requireThat(Number.isSafeInteger(options.seed) && options.seed >= 0, "seed", "a non-negative whole number", options.seed);
  }
  const stopTokenIds = [...(options.stopTokenIds ?? [])];
  for (const id of stopTokenIds) {
    requireThat(Number.isSafeInteger(id) && id >= 0, "stopTokenIds", "token ids (non-negative whole numbers)", id);
  }

  const doSample = options.doSample ?? (temperatureGiven !== undefined && temperatureGiven > 0);
  const temperature = temperatureGiven ?? 1;
  return {
    maxNewTokens,
    greedy: !doSample || temperature === 0,
    temperature,
    topK,
    topP,
    // 2^32 seeds are plenty to tell runs apart and keep the reported seed short enough to type.
    seed: options.seed ?? randomInt(0, 2 ** 32),
    stopTokenIds,
  };
}

function requireThat(condition: boolean, option: string, expected: string, got: unknown): asserts condition {
  if (!condition) {
    throw new EngineError("invalid_option", `Generation option ${option} must be ${expected}; got ${String(got)}.`);
  }
}
