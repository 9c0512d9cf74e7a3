/**
 * The decoder's KV cache between runs: the `present.*` outputs of one run become the
 * `past_key_values.*` inputs of the next. On WebGPU they stay in GPU memory (session `deviceOutputs`) and
 * are never read by the host; elsewhere they are host tensors. Either way the state owns them and
 * {@link releaseKvState} frees them (a no-op for host tensors, which the garbage collector reclaims).
 */
import { createTensor, releaseTensor, type OrtTensor } from "./backend";
import { EngineError } from "./errors";
import type { ManifestKvCache } from "../bundle/manifest";

/** The cache after some tokens: one tensor per past input, and how many positions they hold. */
export interface KvState {
  /** By decoder input name (`past_key_values.{layer}.{key|value}`). */
  readonly past: Readonly<Record<string, OrtTensor>>;
  /** Positions cached: the next token's position id. */
  readonly length: number;
}

/** The shape facts of the cache. */
export interface KvLayout {
  readonly cache: ManifestKvCache;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/** The state before any token: [1, kv heads, 0, head dim] tensors, which the prefill's graph accepts as "no past". */
export function emptyKvState(layout: KvLayout): KvState {
  const past: Record<string, OrtTensor> = {};
  const dims = [1, layout.numKvHeads, 0, layout.headDim];
  for (const name of layout.cache.inputs) {
    const data = layout.cache.dtype === "float16" ? new Uint16Array(0) : new Float32Array(0);
    past[name] = createTensor(layout.cache.dtype, data, dims);
  }
  return { past, length: 0 };
}

/**
 * The state after a run that saw `length` positions in all: each `present.*` output under its
 * `past_key_values.*` name.
 *
 * @throws {EngineError} `run_failed` if the run did not return a cache output (a graph that is not the
 *   bundle's decoder).
 */
export function kvStateFromOutputs(outputs: Readonly<Record<string, OrtTensor>>, layout: KvLayout, length: number): KvState {
  const past: Record<string, OrtTensor> = {};
  layout.cache.outputs.forEach((outputName, index) => {
    const tensor = outputs[outputName];
    if (tensor === undefined) {
      throw new EngineError("run_failed", `The decoder returned no ${outputName} (its KV cache output).`);
    }
    past[layout.cache.inputs[index]] = tensor;
  });
  return { past, length };
}

/** Frees the state's device memory (GPU tensors); host tensors are left to the garbage collector. */
export function releaseKvState(state: KvState): void {
  for (const tensor of Object.values(state.past)) {
    releaseTensor(tensor);
  }
}
