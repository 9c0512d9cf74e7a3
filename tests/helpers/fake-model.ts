/**
 * Deterministic stand-ins for an autoregressive model (models/generation/model.ts), for testing the decode
 * loop without onnxruntime: logits are a pure function of the position and the previous token, and every
 * state is tracked so tests can check that each one is released exactly once.
 */
import type { AutoregressiveModel, ModelCallOptions, ModelOutput } from "../../models/generation/model";

/** The state a fake model threads through: where it is, and an id to track releases. */
export interface FakeState {
  readonly id: number;
  readonly position: number;
  readonly lastToken: number;
}

/** Logits for one position: a pure function of where the model is and what it was last fed. */
export type FakeLogits = (position: number, lastToken: number) => Float32Array | Uint16Array;

/** What a fake model saw. */
export interface FakeModelLog {
  prefills: number;
  /** Token ids given to `step`, in order. */
  steppedWith: number[];
  /** State ids created and released. */
  created: number[];
  released: number[];
}

export interface FakeModelOptions {
  /** Milliseconds each step takes (a timer, as a GPU run would let the event loop wait). */
  readonly stepDelayMs?: number;
  /** Throw from `step` when asked to step at this position. */
  readonly failAtPosition?: number;
}

/** A fake model over `logitsAt`, and the log of what it saw. */
export function fakeModel(logitsAt: FakeLogits, options: FakeModelOptions = {}): { model: AutoregressiveModel<number[], FakeState>; log: FakeModelLog } {
  const log: FakeModelLog = { prefills: 0, steppedWith: [], created: [], released: [] };
  let nextId = 0;
  const newState = (position: number, lastToken: number): FakeState => {
    const state = { id: nextId++, position, lastToken };
    log.created.push(state.id);
    return state;
  };
  const model: AutoregressiveModel<number[], FakeState> = {
    prefill(prompt: number[], _options: ModelCallOptions): Promise<ModelOutput<FakeState>> {
      log.prefills++;
      const last = prompt[prompt.length - 1] ?? 0;
      return Promise.resolve({ logits: logitsAt(0, last), state: newState(0, last) });
    },
    async step(tokenId: number, state: FakeState, _options: ModelCallOptions): Promise<ModelOutput<FakeState>> {
      log.steppedWith.push(tokenId);
      if (options.stepDelayMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, options.stepDelayMs));
      }
      const position = state.position + 1;
      if (position === options.failAtPosition) {
        throw new Error(`fake model failure at position ${position}`);
      }
      return { logits: logitsAt(position, tokenId), state: newState(position, tokenId) };
    },
    release(state: FakeState): void {
      log.released.push(state.id);
    },
  };
  return { model, log };
}

/** Logits that make greedy decoding follow `script` (the scripted token scores 5, all others 0). */
export function scriptedLogits(script: readonly number[], vocabularySize: number): FakeLogits {
  return (position) => {
    const logits = new Float32Array(vocabularySize);
    const target = script[position % script.length];
    logits[target] = 5;
    return logits;
  };
}

/**
 * Smooth pseudo-random logits in [-2, 2): a fixed function of position and last token (an integer hash),
 * so sampled sequences depend on the seed alone.
 */
export function hashedLogits(vocabularySize: number): FakeLogits {
  return (position, lastToken) => {
    const logits = new Float32Array(vocabularySize);
    for (let i = 0; i < vocabularySize; i++) {
      let h = Math.imul(position + 1, 0x9e3779b1) ^ Math.imul(lastToken + 7, 0x85ebca6b) ^ Math.imul(i + 13, 0xc2b2ae35);
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
      logits[i] = (((h ^ (h >>> 12)) >>> 0) / 2 ** 32) * 4 - 2;
    }
    return logits;
  };
}
