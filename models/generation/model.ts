/**
 * What the decode loop needs from a model, and nothing more: a prefill over the prompt and a one-token
 * step, each giving the logits of the next token and an opaque state (the KV cache and positions). The
 * ONNX engine implements it over its sessions; unit tests implement it with deterministic fake logits.
 */
import type { LogitsRow } from "./logits";

/** Logits for the next token, and the state to continue from. */
export interface ModelOutput<State> {
  /** The last position's logits only: float32, or fp16 bits in a Uint16Array. */
  readonly logits: LogitsRow;
  readonly state: State;
}

/** Passed to every model call. */
export interface ModelCallOptions {
  /** The generation's signal; a model may hand it to its session runs so none starts after a cancel. */
  readonly signal?: AbortSignal;
}

/**
 * An autoregressive model as generation drives it.
 *
 * State ownership: the loop owns every state it receives. After a successful `step` it releases the state
 * it passed in (unless `step` returned the same object), and it releases the last state when generation
 * ends, fails or is cancelled. `step` must therefore not free its input itself, and `release` must free
 * only what that state alone holds (e.g. its past key/value tensors in GPU memory).
 */
export interface AutoregressiveModel<Inputs, State> {
  prefill(inputs: Inputs, options: ModelCallOptions): Promise<ModelOutput<State>>;
  step(tokenId: number, state: State, options: ModelCallOptions): Promise<ModelOutput<State>>;
  release?(state: State): void | Promise<void>;
}
