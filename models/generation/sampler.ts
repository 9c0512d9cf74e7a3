/**
 * Choosing the next token from a row of logits: greedy (the most likely token) or a draw from the
 * distribution the logits processors left, using the seeded generator.
 */
import { EngineError } from "../engine/errors";
import type { GenerationConfig } from "./config";
import { buildLogitsProcessors, type LogitsProcessor } from "./logits-processor";
import { toWorkingLogits, type LogitsRow } from "./logits";
import { SeededRandom } from "./prng";
import { softmax } from "./softmax";

/**
 * Index of the largest logit; on ties the FIRST one, as torch.argmax does, so greedy output matches the
 * PyTorch reference token for token.
 */
export function argmaxFirst(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) {
    if (logits[i] > logits[best]) {
      best = i;
    }
  }
  return best;
}

/**
 * Draws a token id with probability softmax(logits), by inverse transform sampling: one uniform draw
 * `u`, then the first token whose cumulative probability exceeds `u`. Tokens at -Infinity are never drawn.
 */
export function sampleFromLogits(logits: Float32Array, random: SeededRandom): number {
  const probabilities = softmax(logits);
  const u = random.nextFloat();
  let cumulative = 0;
  let lastPossible = -1;
  for (let i = 0; i < probabilities.length; i++) {
    const probability = probabilities[i];
    if (probability > 0) {
      cumulative += probability;
      lastPossible = i;
      if (u < cumulative) {
        return i;
      }
    }
  }
  // Rounding can leave the total a hair below 1 with u above it; the last possible token takes that sliver.
  return lastPossible;
}

/** Picks next tokens for one generation: its processors and random stream live as long as it does. */
export class TokenSelector {
  private readonly processors: readonly LogitsProcessor[];
  private readonly random: SeededRandom | undefined;

  constructor(private readonly config: GenerationConfig) {
    this.processors = buildLogitsProcessors(config);
    this.random = config.greedy ? undefined : new SeededRandom(config.seed);
  }

  /**
   * The next token for a row of logits (float32, or fp16 bits).
   *
   * @param step index of the token being chosen, for error messages.
   * @throws {EngineError} `invalid_logits` for an empty row, NaN, or no token left to choose.
   */
  select(row: LogitsRow, step: number): number {
    const logits = toWorkingLogits(row, step);
    if (this.random === undefined) {
      const best = argmaxFirst(logits);
      if (logits[best] === -Infinity) {
        throw noTokenLeft(step);
      }
      return best;
    }
    for (const processor of this.processors) {
      processor.process(logits);
    }
    const token = sampleFromLogits(logits, this.random);
    if (token < 0) {
      throw noTokenLeft(step);
    }
    return token;
  }

  /** The processors in use, for logs ("temperature 0.7, top-p 0.9"). */
  describe(): string {
    return this.random === undefined ? "greedy" : ["sampling", ...this.processors.map((p) => p.name), `seed ${this.config.seed}`].join(", ");
  }
}

function noTokenLeft(step: number): EngineError {
  return new EngineError("invalid_logits", `Every logit is -Infinity at step ${step}: there is no token to choose.`);
}
