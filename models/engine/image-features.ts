/**
 * Placing the vision encoder's output in the token sequence: Molmo ADDS each pooled image feature to the
 * embedding of the `<im_patch>` token it belongs to (reference `olmo/model.py` Molmo.forward:
 * `x[batch_idx[valid], image_input_idx[valid]] += image_features[valid]`; HF modeling_molmo.py the same).
 * The `<im_patch>` embeddings themselves are therefore part of the input, not replaced.
 */
import { EngineError } from "./errors";
import { float32ToHalfBits, halfBitsToFloat32 } from "../generation/fp16";

/** Float tensor data: float32 values, or float16 bit patterns (fp16 bundles) in a Uint16Array. */
export type FloatData = Float32Array | Uint16Array;

/** Where the features go. */
export interface FeatureLayout {
  /** Crops encoded (rows of `features` are crops x tokensPerCrop). */
  readonly nCrops: number;
  readonly tokensPerCrop: number;
  /** Values per feature and per embedding. */
  readonly dModel: number;
  /** Tokens in the embedded sequence. */
  readonly sequenceLength: number;
  /**
   * What to add to each index to get a sequence position: the preprocessor counts from the first image
   * token, which sits after BOS (`imageTokenOffset` of `buildInputIds`).
   */
  readonly offset: number;
}

/**
 * Adds `features` [nCrops, tokensPerCrop, dModel] into `embeds` [sequenceLength, dModel] in place, at
 * `imageInputIdx[c * tokensPerCrop + t] + offset` for every non-negative index (negative = a pooled slot
 * the overlapping crops drop). Both arrays must be of the same kind: float32, or float16 bits, which are
 * added in float32 and rounded back to the nearest float16 as PyTorch does for half tensors.
 *
 * @returns how many features were placed.
 * @throws {EngineError} `invalid_input` when the sizes disagree or an index points outside the sequence.
 */
export function addImageFeatures(embeds: FloatData, features: FloatData, imageInputIdx: Int32Array, layout: FeatureLayout): number {
  const { nCrops, tokensPerCrop, dModel, sequenceLength, offset } = layout;
  const slots = nCrops * tokensPerCrop;
  if (imageInputIdx.length !== slots) {
    throw new EngineError("invalid_input", `image_input_idx has ${imageInputIdx.length} entries, but ${nCrops} crops of ${tokensPerCrop} tokens need ${slots}.`);
  }
  if (features.length !== slots * dModel) {
    throw new EngineError("invalid_input", `The vision encoder gave ${features.length} values, but ${nCrops} crops x ${tokensPerCrop} tokens x ${dModel} need ${slots * dModel}.`);
  }
  if (embeds.length !== sequenceLength * dModel) {
    throw new EngineError("invalid_input", `The embeddings hold ${embeds.length} values, but ${sequenceLength} tokens x ${dModel} need ${sequenceLength * dModel}.`);
  }
  if (embeds instanceof Float32Array !== features instanceof Float32Array) {
    throw new EngineError("invalid_input", "Image features and token embeddings must have the same element type (both float32 or both float16).");
  }
  let placed = 0;
  const half = embeds instanceof Uint16Array ? halfRow(dModel) : undefined;
  for (let slot = 0; slot < slots; slot++) {
    const index = imageInputIdx[slot];
    if (index < 0) {
      continue;
    }
    const position = index + offset;
    if (position >= sequenceLength) {
      throw new EngineError("invalid_input", `Image feature ${slot} belongs at position ${position}, past the end of the ${sequenceLength}-token sequence.`);
    }
    const from = slot * dModel;
    const to = position * dModel;
    if (half === undefined) {
      const target = embeds as Float32Array;
      const source = features as Float32Array;
      for (let i = 0; i < dModel; i++) {
        target[to + i] += source[from + i];
      }
    } else {
      addHalfRow(embeds as Uint16Array, to, features as Uint16Array, from, half);
    }
    placed++;
  }
  return placed;
}

/** The float32 value of every fp16 bit pattern (256 KiB), made when the first fp16 features are added. */
let halfValues: Float32Array | undefined;

/** What {@link addHalfRow} works with: the value table and a float32 row for the sums, made once per call. */
interface HalfRow {
  readonly values: Float32Array;
  readonly sums: Float32Array;
}

function halfRow(dModel: number): HalfRow {
  halfValues ??= halfBitsToFloat32(Uint16Array.from({ length: 65536 }, (_, bits) => bits));
  return { values: halfValues, sums: new Float32Array(dModel) };
}

/**
 * `embeds[to ..] = half(float(embeds[to ..]) + float(features[from ..]))` over one row. torch adds half
 * tensors in float32 and rounds the result to half; a float32 sum of two halves is exact or rounded once,
 * as Math.fround does, so storing it in a Float32Array gives the same value. Decoding through a table and
 * summing into a float32 row first is ~10x faster than decoding each value arithmetically (measured: 1212
 * features of 3584 values: 615 -> 95 ms on the H200 machine's CPU, bench:engine-gpu; 470 -> 45-65 ms on a 2-core machine).
 */
function addHalfRow(embeds: Uint16Array, to: number, features: Uint16Array, from: number, row: HalfRow): void {
  const { values, sums } = row;
  const n = sums.length;
  for (let i = 0; i < n; i++) {
    sums[i] = values[embeds[to + i]] + values[features[from + i]];
  }
  for (let i = 0; i < n; i++) {
    embeds[to + i] = float32ToHalfBits(sums[i]);
  }
}
