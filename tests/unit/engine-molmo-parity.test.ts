/**
 * Parity of the TypeScript engine with PyTorch on the tiny random Molmo (tests/fixtures/tiny-molmo),
 * through the full path from the image file to text: the engine's own preprocessing must reproduce the
 * model inputs the reference was computed from, its prefill logits must match the reference's within
 * reference.json's tolerance (1e-3), and greedy decoding with the KV cache must give the same 32 tokens.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MolmoEngine, type PrefillLogits } from "../../models/engine/molmo-engine";
import { loadImage } from "../../models/image/load";
import { readNpyFile } from "../../models/io/npy";
import { DROPPED_SLOT, preprocessImage } from "../../models/preprocess";
import type { MolmoTask } from "../../models/prompt";
import { makeTinyBundle, tinyMolmoDir } from "../helpers/tiny-bundle";

interface Reference {
  image: { file: string; width: number; height: number };
  task: MolmoTask;
  prompt: string;
  preprocess: { tiling: { rows: number; cols: number }; n_crops: number; crops_shape: number[]; crops_float32_sha256: string };
  inputs: { input_ids: string; image_masks: string; sequence_length: number; image_token_offset: number; text_token_offset: number };
  prefill: { logits_file: string; logits_shape: [number, number]; positions: number[] };
  greedy: { max_new_tokens: number; stop_on_eos: boolean; eos_id: number; tokens: number[]; min_gap: number };
  tolerance: { logits_max_abs: number };
}

const fixture = (name: string) => join(tinyMolmoDir(), name);
const reference = JSON.parse(readFileSync(fixture("reference.json"), "utf8")) as Reference;
const imagePath = fixture(reference.image.file);

let engine: MolmoEngine;

before(async () => {
  engine = await MolmoEngine.load(makeTinyBundle(), { ep: "cpu" });
});

after(async () => {
  await engine.dispose();
});

void test("the engine's preprocessing reproduces the fixture's model inputs", async () => {
  const image = await loadImage(imagePath);
  assert.deepEqual({ width: image.width, height: image.height }, { width: reference.image.width, height: reference.image.height });
  const pre = await preprocessImage(image, engine.bundle.preprocessorConfig, engine.tokenizer.imageTokens);
  assert.deepEqual(pre.tiling, reference.preprocess.tiling);
  assert.deepEqual([pre.nCrops, pre.patchesPerCrop, pre.pixelsPerPatch], reference.preprocess.crops_shape);
  const cropsSha = createHash("sha256").update(new Uint8Array(pre.crops.buffer, pre.crops.byteOffset, pre.crops.byteLength)).digest("hex");
  assert.equal(cropsSha, reference.preprocess.crops_float32_sha256);

  const masks = await readNpyFile(fixture("image_masks.npy"));
  assert.deepEqual(masks.data, pre.imageMasks);
  const idx = await readNpyFile(fixture("image_input_idx.npy"));
  const expectedIdx = Array.from(pre.imageInputIdx, (v) => (v === DROPPED_SLOT ? v : v + reference.inputs.image_token_offset));
  assert.deepEqual(Array.from(idx.data as BigInt64Array, Number), expectedIdx);
});

void test("prefill logits match PyTorch and greedy decoding gives the reference's 32 tokens", async (t) => {
  const expectedLogits = await readNpyFile(fixture(reference.prefill.logits_file));
  const [rows, vocabulary] = reference.prefill.logits_shape;
  assert.deepEqual(expectedLogits.shape, [rows, vocabulary]);
  let prefill: PrefillLogits | undefined;

  const result = await engine.ask({
    image: imagePath,
    task: reference.task,
    maxNewTokens: reference.greedy.max_new_tokens,
    stopTokenIds: reference.greedy.stop_on_eos ? [reference.greedy.eos_id] : [],
    onPrefillLogits: (logits) => {
      prefill = logits;
    },
  });

  assert.equal(result.prompt, reference.prompt);
  const inputIds = await readNpyFile(fixture(reference.inputs.input_ids));
  assert.equal(result.inputIds.length, reference.inputs.sequence_length);
  assert.deepEqual(Array.from(result.inputIds), Array.from(inputIds.data as BigInt64Array, Number));

  assert.ok(prefill !== undefined, "the prefill logits were reported");
  assert.equal(prefill.numLogits, vocabulary);
  assert.equal(prefill.length, reference.inputs.sequence_length);
  const actual = prefill.data as Float32Array;
  const expected = expectedLogits.data as Float32Array;
  let maxAbsDiff = 0;
  reference.prefill.positions.forEach((position, row) => {
    for (let v = 0; v < vocabulary; v++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[position * vocabulary + v] - expected[row * vocabulary + v]));
    }
  });
  t.diagnostic(`prefill logits max |diff| vs PyTorch at positions ${reference.prefill.positions.join(", ")}: ${maxAbsDiff.toExponential(2)}`);
  assert.ok(maxAbsDiff <= reference.tolerance.logits_max_abs, `max |diff| ${maxAbsDiff} exceeds ${reference.tolerance.logits_max_abs}`);

  assert.deepEqual(result.tokenIds, reference.greedy.tokens);
  assert.equal(result.stopReason, "max_new_tokens");
  assert.equal(result.text, engine.tokenizer.decode(reference.greedy.tokens, { skipSpecialTokens: true }));
  assert.equal(result.ep, "cpu");
  assert.equal(result.generation.greedy, true);
  t.diagnostic(
    `ttft ${result.timings.timeToFirstTokenMs.toFixed(0)} ms (prefill ${result.timings.prefillMs.toFixed(0)} ms), ` +
      `decode ${result.timings.decodeTokensPerSecond.toFixed(0)} tokens/s`,
  );
});
