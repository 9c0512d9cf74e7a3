/**
 * Molmo's language model as generation drives it (`AutoregressiveModel` of models/generation): the
 * embedding graph and the decoder graph with its KV cache.
 *
 * - prefill: the whole prompt's embeddings (image features already added) with an empty past; the
 *   decoder returns logits for every position, of which the last row predicts the first new token.
 * - step: the chosen token is embedded alone and run with the past; its position id is the number of
 *   positions cached; the attention mask is all ones over past + 1 (there is no padding in a batch of one).
 *
 * Prefill logits: a decoder graph that declares an int64 input `num_logits_to_keep` (Hugging Face's
 * `logits_to_keep`: 0 = every position, k = the last k; the exporter has declared it since it was added) is
 * fed 1, so the LM head runs over the last position only, unless the caller wants them all (`onLogits`),
 * when it is fed 0. Decode steps feed 1. A bundle exported before the input existed still runs: its graph
 * computes the LM head over every prompt position, [prompt length, vocabulary] float32 (about 270 MB for a
 * one-image prompt on Molmo-7B-D), of which the last row is kept.
 */
import { createTensor, readTensorData, releaseTensor, type OrtTensor } from "./backend";
import { EngineError } from "./errors";
import type { FloatData } from "./image-features";
import { emptyKvState, kvStateFromOutputs, releaseKvState, type KvLayout, type KvState } from "./kv-cache";
import type { PinnedPrefix } from "./prefix-cache";
import type { EngineSession, Outputs } from "./session";
import { LOGITS_TO_KEEP_INPUT, type MolmoOnnxManifest, type TensorContract, type TensorDtype } from "../bundle/manifest";
import type { AutoregressiveModel, ModelCallOptions, ModelOutput } from "../generation/model";
import type { LogitsRow } from "../generation/logits";

/** What the prefill takes: the prompt's embeddings, [length, dModel] row-major. */
export interface PrefillInput {
  readonly embeds: FloatData;
  readonly length: number;
  /**
   * Receives the logits of every prompt position (parity checks, diagnostics) before the last row is kept.
   * Giving it makes the prefill ask the decoder for all positions (`num_logits_to_keep` 0), which costs the
   * LM head over the whole prompt; without it only the last position's logits are computed.
   */
  readonly onLogits?: (logits: PrefillLogits) => void;
  /** The image prefix: reused from the prefix cache, or computed in a run of its own and handed to it. */
  readonly prefix?: PrefixPlan;
}

/**
 * How the prefill treats the prompt's image prefix (BOS and image tokens):
 * - `cached`: `embeds` hold only the positions after the prefix, which run with the cached state as past;
 * - `compute`: `embeds` hold the whole prompt; its first `length` positions run alone, their state goes to
 *   `adopt` (the prefix cache), and the rest runs with it as past.
 * The pinned prefix is unpinned when the prefill is done with it (also on failure); it is never released here.
 */
export type PrefixPlan =
  | { readonly kind: "cached"; readonly pinned: PinnedPrefix }
  | { readonly kind: "compute"; readonly length: number; readonly adopt: (state: KvState) => PinnedPrefix };

/** All prefill logits, for parity checks and diagnostics. */
export interface PrefillLogits {
  /** [length, numLogits] row-major: row i predicts the token after prompt position i. */
  readonly data: LogitsRow;
  readonly length: number;
  readonly numLogits: number;
  /**
   * The prompt position of row 0: 0, except after a cached image prefix, whose positions are not run again
   * (then the rows are those of positions firstPosition .. firstPosition + length - 1).
   */
  readonly firstPosition: number;
}

/** Counts of model calls, for reports and tests. */
export interface DecoderRunCounts {
  readonly embedRuns: number;
  readonly prefillRuns: number;
  readonly stepRuns: number;
}

/** The embedding and decoder sessions of one bundle, as an autoregressive model. */
export class MolmoDecoder implements AutoregressiveModel<PrefillInput, KvState> {
  private readonly layout: KvLayout;
  private readonly dModel: number;
  private readonly numLogits: number;
  private readonly embedsDtype: TensorDtype;
  private readonly logitsToKeep: TensorContract | undefined;
  private counts = { embedRuns: 0, prefillRuns: 0, stepRuns: 0 };

  constructor(
    private readonly embedSession: EngineSession,
    private readonly decoderSession: EngineSession,
    manifest: MolmoOnnxManifest,
  ) {
    this.layout = { cache: manifest.kvCache, numKvHeads: manifest.dims.numKvHeads, headDim: manifest.dims.headDim };
    this.dModel = manifest.dims.dModel;
    this.numLogits = manifest.dims.numLogits;
    const embedsInput = manifest.graphs.decoder.inputs.find((t) => t.name === "inputs_embeds");
    this.embedsDtype = embedsInput?.dtype ?? "float32";
    this.logitsToKeep = manifest.graphs.decoder.inputs.find((t) => t.name === LOGITS_TO_KEEP_INPUT);
  }

  /** The counts so far. */
  runCounts(): DecoderRunCounts {
    return { ...this.counts };
  }

  /**
   * Embeddings of `ids` ([ids.length, dModel], float32 or float16 bits as the bundle's dtype), a fresh
   * array the caller may change (the engine adds image features into it).
   */
  async embed(ids: ArrayLike<number>, signal?: AbortSignal): Promise<FloatData> {
    const data = new BigInt64Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      data[i] = BigInt(ids[i]);
    }
    const outputs = await this.embedSession.run({ input_ids: createTensor("int64", data, [1, ids.length]) }, { signal });
    this.counts.embedRuns++;
    const tensor = this.output(outputs, "inputs_embeds", this.embedSession.label);
    const values = readTensorData(tensor);
    if (!(values instanceof Float32Array || values instanceof Uint16Array) || values.length !== ids.length * this.dModel) {
      throw new EngineError("run_failed", `${this.embedSession.label} returned ${tensor.type} [${tensor.dims.join(", ")}], expected [1, ${ids.length}, ${this.dModel}].`);
    }
    return values;
  }

  async prefill(input: PrefillInput, options: ModelCallOptions): Promise<ModelOutput<KvState>> {
    const { length, prefix } = input;
    if (length < 1 || input.embeds.length !== length * this.dModel) {
      throw new EngineError("invalid_input", `Prefill embeddings hold ${input.embeds.length} values, not ${length} tokens x ${this.dModel}.`);
    }
    if (prefix === undefined) {
      return this.prefillFrom(emptyKvState(this.layout), input.embeds, length, 0, input.onLogits, options);
    }
    if (prefix.kind === "cached") {
      try {
        return await this.prefillFrom(prefix.pinned.state, input.embeds, length, undefined, input.onLogits, options);
      } finally {
        prefix.pinned.unpin();
      }
    }
    const split = prefix.length;
    if (!Number.isInteger(split) || split < 1 || split >= length) {
      throw new EngineError("invalid_input", `The image prefix must be 1 to ${length - 1} positions of the ${length}-token prompt, not ${split}.`);
    }
    // The prefix alone, from an empty past: its state is what every question about this image starts from.
    const allRows = input.onLogits !== undefined;
    const head = await this.runDecoder(input.embeds.subarray(0, split * this.dModel), split, emptyKvState(this.layout), options.signal, allRows ? 0 : 1);
    this.counts.prefillRuns++;
    let headLogits: LogitsRow | undefined;
    if (allRows) {
      headLogits = this.logitsOf(head, split);
    }
    const pinned = prefix.adopt(this.stateOf(head, split));
    try {
      let tailLogits: LogitsRow | undefined;
      const rest = length - split;
      const collect = allRows
        ? (logits: PrefillLogits) => {
            tailLogits = logits.data;
          }
        : undefined;
      const output = await this.prefillFrom(pinned.state, input.embeds.subarray(split * this.dModel), rest, undefined, collect, options);
      if (input.onLogits !== undefined && headLogits !== undefined && tailLogits !== undefined) {
        try {
          input.onLogits({ data: concatRows(headLogits, tailLogits), length, numLogits: this.numLogits, firstPosition: 0 });
        } catch (error) {
          releaseKvState(output.state);
          throw error;
        }
      }
      return output;
    } finally {
      pinned.unpin();
    }
  }

  /**
   * Runs `length` positions after `past` (which is not released: the caller owns it). `firstPosition`
   * overrides the reported logits' first position (default: the past's length).
   */
  private async prefillFrom(
    past: KvState,
    embeds: FloatData,
    length: number,
    firstPosition: number | undefined,
    onLogits: ((logits: PrefillLogits) => void) | undefined,
    options: ModelCallOptions,
  ): Promise<ModelOutput<KvState>> {
    const allRows = onLogits !== undefined;
    const outputs = await this.runDecoder(embeds, length, past, options.signal, allRows ? 0 : 1);
    this.counts.prefillRuns++;
    const logits = this.logitsOf(outputs, allRows || this.logitsToKeep === undefined ? length : 1);
    const state = this.stateOf(outputs, past.length + length);
    try {
      onLogits?.({ data: logits, length, numLogits: this.numLogits, firstPosition: firstPosition ?? past.length });
    } catch (error) {
      releaseKvState(state);
      throw error;
    }
    // A copy of the last row, so a [length, vocab] buffer can be freed while generation goes on.
    const rows = logits.length / this.numLogits;
    return { logits: logits.slice((rows - 1) * this.numLogits, rows * this.numLogits), state };
  }

  async step(tokenId: number, state: KvState, options: ModelCallOptions): Promise<ModelOutput<KvState>> {
    const embeds = await this.embed([tokenId], options.signal);
    const outputs = await this.runDecoder(embeds, 1, state, options.signal, 1);
    this.counts.stepRuns++;
    const logits = this.logitsOf(outputs, 1);
    return { logits, state: this.stateOf(outputs, state.length + 1) };
  }

  release(state: KvState): void {
    releaseKvState(state);
  }

  /** One decoder run; `keep` is fed as `num_logits_to_keep` when the graph takes it (0 = all positions, 1 = the last). */
  private async runDecoder(embeds: FloatData, length: number, past: KvState, signal: AbortSignal | undefined, keep: number): Promise<Outputs> {
    const total = past.length + length;
    const positions = new BigInt64Array(length);
    for (let i = 0; i < length; i++) {
      positions[i] = BigInt(past.length + i);
    }
    return this.decoderSession.run(
      {
        inputs_embeds: createTensor(this.embedsDtype, embeds, [1, length, this.dModel]),
        attention_mask: createTensor("int64", new BigInt64Array(total).fill(1n), [1, total]),
        position_ids: createTensor("int64", positions, [1, length]),
        ...(this.logitsToKeep !== undefined
          ? { [LOGITS_TO_KEEP_INPUT]: createTensor("int64", BigInt64Array.of(BigInt(keep)), this.logitsToKeep.shape.length === 0 ? [] : [1]) }
          : {}),
        ...past.past,
      },
      { signal },
    );
  }

  private logitsOf(outputs: Outputs, length: number): LogitsRow {
    const tensor = this.output(outputs, "logits", this.decoderSession.label);
    let values;
    try {
      values = readTensorData(tensor);
    } catch (error) {
      this.releaseAll(outputs);
      throw error;
    }
    if (!(values instanceof Float32Array || values instanceof Uint16Array) || values.length !== length * this.numLogits) {
      this.releaseAll(outputs);
      throw new EngineError("run_failed", `The decoder returned logits ${tensor.type} [${tensor.dims.join(", ")}], expected [1, ${length}, ${this.numLogits}].`);
    }
    return values;
  }

  private stateOf(outputs: Outputs, length: number): KvState {
    try {
      return kvStateFromOutputs(outputs, this.layout, length);
    } catch (error) {
      this.releaseAll(outputs);
      throw error;
    }
  }

  private output(outputs: Outputs, name: string, label: string): OrtTensor {
    const tensor = outputs[name];
    if (tensor === undefined) {
      this.releaseAll(outputs);
      throw new EngineError("run_failed", `${label} returned no ${name} output.`);
    }
    return tensor;
  }

  private releaseAll(outputs: Outputs): void {
    for (const tensor of Object.values(outputs)) {
      releaseTensor(tensor);
    }
  }
}

/** Two logits blocks of the same kind, one after the other. */
function concatRows(a: LogitsRow, b: LogitsRow): LogitsRow {
  const out = a instanceof Float32Array ? new Float32Array(a.length + b.length) : new Uint16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
