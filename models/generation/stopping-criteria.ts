/**
 * When generation ends on its own: a stop token, or the token budget. (Cancellation is the caller's
 * decision, not a criterion: it rejects the generation instead of ending it; see generate.ts.)
 */
import type { GenerationConfig } from "./config";

/** Why a generation ended normally. */
export type StopReason = "stop_token" | "max_new_tokens";

/** Looks at the tokens generated so far (the newest last) and says whether to stop. */
export interface StoppingCriterion {
  shouldStop(generated: readonly number[]): StopReason | undefined;
}

/** Stops once the newest token is one of the stop tokens (which stays in the output, as in Hugging Face). */
export class StopTokenCriterion implements StoppingCriterion {
  private readonly stopIds: ReadonlySet<number>;

  constructor(stopTokenIds: Iterable<number>) {
    this.stopIds = new Set(stopTokenIds);
  }

  shouldStop(generated: readonly number[]): StopReason | undefined {
    const newest = generated[generated.length - 1];
    return newest !== undefined && this.stopIds.has(newest) ? "stop_token" : undefined;
  }
}

/** Stops once `maxNewTokens` tokens exist. */
export class MaxNewTokensCriterion implements StoppingCriterion {
  constructor(private readonly maxNewTokens: number) {}

  shouldStop(generated: readonly number[]): StopReason | undefined {
    return generated.length >= this.maxNewTokens ? "max_new_tokens" : undefined;
  }
}

/** The criteria of a configuration; a stop token wins over the budget when both hold at the same token. */
export function buildStoppingCriteria(config: GenerationConfig): StoppingCriterion[] {
  return [new StopTokenCriterion(config.stopTokenIds), new MaxNewTokensCriterion(config.maxNewTokens)];
}

/** The first criterion that says stop, if any. */
export function checkStop(criteria: readonly StoppingCriterion[], generated: readonly number[]): StopReason | undefined {
  for (const criterion of criteria) {
    const reason = criterion.shouldStop(generated);
    if (reason !== undefined) {
      return reason;
    }
  }
  return undefined;
}
