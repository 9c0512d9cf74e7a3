/**
 * Placing the vision encoder's output in the token sequence: Molmo ADDS each pooled image feature to the
 * embedding of the `<im_patch>` token it belongs to (reference `olmo/model.py` Molmo.forward:
 * `x[batch_idx[valid], image_input_idx[valid]] += image_features[valid]`; HF modeling_molmo.py the same).
 * The `<im_patch>` embeddings themselves are therefore part of the input, not replaced.
 */
import { EngineError } from "./errors";
import { decodeHalf, float32ToHalfBits } from "../generation/fp16";

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
    if (embeds instanceof Float32Array) {
      const source = features as Float32Array;
      for (let i = 0; i < dModel; i++) {
        embeds[to + i] += source[from + i];
      }
    } else {
      const source = features as Uint16Array;
      for (let i = 0; i < dModel; i++) {
        // torch adds half tensors in float32 and rounds the result to half.
        embeds[to + i] = float32ToHalfBits(Math.fround(decodeHalf(embeds[to + i]) + decodeHalf(source[from + i])));
      }
    }
    placed++;
  }
  return placed;
}
