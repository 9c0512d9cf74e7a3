import { test } from "node:test";
import assert from "node:assert/strict";
import { addImageFeatures } from "../../models/engine/image-features";
import { EngineError } from "../../models/engine/errors";
import { decodeHalf, float32ToHalfBits } from "../../models/generation/fp16";

/** A deterministic stream of 32-bit values, so a failure can be reproduced. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

/** torch's half addition, spelled out: both values to float32, one float32 add, rounded to the nearest half. */
function referenceHalfAdd(a: number, b: number): number {
  return float32ToHalfBits(Math.fround(decodeHalf(a) + decodeHalf(b)));
}

void test("fp16 features are added as torch adds half tensors, for every bit pattern of the embeddings", () => {
  // 65536 positions of dModel 1: each embedding is one fp16 bit pattern (zeros, subnormals, normals, infinities,
  // NaNs), and its feature a random pattern, so every decoding and rounding path is crossed.
  const next = lcg(11);
  const dModel = 8;
  const length = 65536 / dModel;
  const embeds = Uint16Array.from({ length: 65536 }, (_, bits) => bits);
  const features = Uint16Array.from({ length: 65536 }, () => next() & 0xffff);
  const expected = embeds.map((bits, i) => referenceHalfAdd(bits, features[i]));
  const index = Int32Array.from({ length }, (_, i) => i);
  const placed = addImageFeatures(embeds, features, index, { nCrops: 1, tokensPerCrop: length, dModel, sequenceLength: length, offset: 0 });
  assert.equal(placed, length);
  const mismatches = embeds.reduce((count, bits, i) => count + (bits === expected[i] ? 0 : 1), 0);
  assert.equal(mismatches, 0);
});

void test("fp16 sums that round, overflow or cancel give torch's half results", () => {
  const pairs: [number, number][] = [
    [0x3c00, 0x1000], // 1 + 2^-11, halfway between two halves: ties to the even one, 1
    [0x3c01, 0x1000], // (1 + 2^-10) + 2^-11, halfway again: ties to the even one, 1 + 2^-9
    [0x7bff, 0x7bff], // 65504 + 65504 overflows to +Infinity
    [0x3c00, 0xbc00], // 1 + -1 = +0
    [0x0001, 0x8001], // the smallest subnormals cancel
    [0x7c00, 0xfc00], // Infinity - Infinity = NaN
  ];
  const embeds = Uint16Array.from(pairs.map(([a]) => a));
  const features = Uint16Array.from(pairs.map(([, b]) => b));
  addImageFeatures(embeds, features, Int32Array.from(pairs, (_, i) => i), { nCrops: 1, tokensPerCrop: pairs.length, dModel: 1, sequenceLength: pairs.length, offset: 0 });
  assert.deepEqual([...embeds], pairs.map(([a, b]) => referenceHalfAdd(a, b)));
  assert.equal(embeds[0], 0x3c00);
  assert.equal(embeds[1], 0x3c02);
  assert.equal(embeds[2], 0x7c00);
  assert.equal(embeds[3], 0x0000);
});

void test("features go to their index plus the offset; negative indices are skipped; other rows are untouched", () => {
  const dModel = 3;
  const embeds = new Float32Array(5 * dModel).fill(1);
  // Two crops of two tokens; the second crop's first slot is dropped (-1).
  const features = Float32Array.from({ length: 4 * dModel }, (_, i) => i + 0.5);
  const placed = addImageFeatures(embeds, features, Int32Array.of(0, 1, -1, 3), { nCrops: 2, tokensPerCrop: 2, dModel, sequenceLength: 5, offset: 1 });
  assert.equal(placed, 3);
  assert.deepEqual([...embeds], [1, 1, 1, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 1, 1, 1, 10.5, 11.5, 12.5]);
});

void test("the fp16 path places rows like the float32 path", () => {
  const dModel = 4;
  const embeds = new Uint16Array(4 * dModel).fill(0x3c00); // 1.0
  const features = new Uint16Array(2 * dModel).fill(0x3800); // 0.5
  addImageFeatures(embeds, features, Int32Array.of(2, -1), { nCrops: 1, tokensPerCrop: 2, dModel, sequenceLength: 4, offset: 1 });
  assert.deepEqual([...embeds], [...new Array<number>(3 * dModel).fill(0x3c00), ...new Array<number>(dModel).fill(0x3e00)]);
});

void test("inconsistent sizes, mixed element types and indices past the sequence are invalid_input", () => {
  const layout = { nCrops: 1, tokensPerCrop: 2, dModel: 2, sequenceLength: 3, offset: 1 };
  const isInvalid = (error: unknown) => error instanceof EngineError && error.code === "invalid_input";
  assert.throws(() => addImageFeatures(new Float32Array(6), new Float32Array(4), Int32Array.of(0), layout), isInvalid);
  assert.throws(() => addImageFeatures(new Float32Array(6), new Float32Array(3), Int32Array.of(0, 1), layout), isInvalid);
  assert.throws(() => addImageFeatures(new Float32Array(5), new Float32Array(4), Int32Array.of(0, 1), layout), isInvalid);
  assert.throws(() => addImageFeatures(new Uint16Array(6), new Float32Array(4), Int32Array.of(0, 1), layout), isInvalid);
  assert.throws(() => addImageFeatures(new Uint16Array(6), new Uint16Array(4), Int32Array.of(0, 2), layout), isInvalid);
});
