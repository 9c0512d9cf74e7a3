import { test } from "node:test";
import assert from "node:assert/strict";
import { selectTiling, tilingCandidates } from "../../models/preprocess/tiling";
import { letterbox } from "../../models/preprocess/letterbox";

// select_tiling(h', w', 224, 12) with h' = H - 112, w' = W - 112, as the released 7B-D calls it.
const tile = (width: number, height: number) => selectTiling(height - 112, width - 112, 224, 12);

void test("candidates: 35 tilings for 12 crops, ordered by crop count then rows", () => {
  const candidates = tilingCandidates(12);
  assert.equal(candidates.length, 35);
  assert.deepEqual(candidates.slice(0, 6), [
    { rows: 1, cols: 1 },
    { rows: 1, cols: 2 },
    { rows: 2, cols: 1 },
    { rows: 1, cols: 3 },
    { rows: 3, cols: 1 },
    { rows: 1, cols: 4 },
  ]);
  assert.deepEqual(candidates.at(-1), { rows: 12, cols: 1 });
});

void test("1920x1080: every tiling needs downscaling, 3x4 downscales least (0.4956 vs 2x6's 0.4628)", () => {
  assert.deepEqual(tile(1920, 1080), { rows: 3, cols: 4 });
  assert.deepEqual(tile(1080, 1920), { rows: 4, cols: 3 });
});

void test("500x300: 1x2 and 2x2 tie at scale 1.1546, the smaller tiling wins by sort order", () => {
  assert.deepEqual(tile(500, 300), { rows: 1, cols: 2 });
  // The tie is real: both candidates need exactly the same float32 scale.
  const f = Math.fround;
  const scale = (rows: number, cols: number) => Math.min(f(f(rows * 224) / f(188)), f(f(cols * 224) / f(388)));
  assert.equal(scale(1, 2), scale(2, 2));
  assert.equal(scale(1, 2).toFixed(4), "1.1546");
});

void test("square and small images upscale into one crop", () => {
  assert.deepEqual(tile(336, 336), { rows: 1, cols: 1 });
  assert.deepEqual(tile(100, 100), { rows: 1, cols: 1 });
  assert.deepEqual(tile(337, 335), { rows: 1, cols: 2 });
});

void test("tiny images: negative sizes after the margin fall back to 1x1", () => {
  assert.deepEqual(tile(1, 1), { rows: 1, cols: 1 });
  assert.deepEqual(tile(28, 500), { rows: 1, cols: 1 }); // w' = -84
  assert.deepEqual(tile(50, 100000), { rows: 1, cols: 1 }); // extremely tall and thin
  assert.deepEqual(tile(500, 100), { rows: 1, cols: 1 }); // h' = -12: every scale is negative
});

// Values printed by the reference's own select_tiling (numpy 1.24) for these arguments; they cover the
// zero-size branch, where a division by zero gives an infinite scale rather than a fallback to 1x1.
const REFERENCE_VECTORS: Array<[number, number, number, number]> = [
  [0, 388, 1, 2],
  [-12, 388, 1, 1],
  [388, 0, 2, 1],
  [0, 0, 1, 1],
  [-111, -111, 1, 1],
  [388, -84, 1, 1],
  [968, 1808, 3, 4],
  [188, 388, 1, 2],
  [224, 224, 1, 1],
  [1, 1, 1, 1],
  [0, -5, 1, 1],
  [1808, 968, 4, 3],
  [2000, 2000, 3, 3],
  [448, 672, 2, 3],
  [223, 447, 1, 2],
];

void test("select_tiling matches the reference's outputs, including h' or w' = 0 (112 px sides)", () => {
  for (const [h, w, rows, cols] of REFERENCE_VECTORS) {
    assert.deepEqual(selectTiling(h, w, 224, 12), { rows, cols }, `select_tiling(${h}, ${w})`);
  }
});

void test("max crops bounds the tiling", () => {
  assert.deepEqual(selectTiling(1808, 968, 224, 1), { rows: 1, cols: 1 });
  const big = selectTiling(5000, 5000, 224, 36);
  assert.ok(big.rows * big.cols <= 36);
  assert.deepEqual(big, { rows: 6, cols: 6 });
});

void test("letterbox: 1920x1080 into 784x1008 gives 567x1007 in float32 (float64 would give 1008)", () => {
  const box = letterbox(1080, 1920, 784, 1008);
  assert.deepEqual(box, { canvasHeight: 784, canvasWidth: 1008, contentHeight: 567, contentWidth: 1007, top: 108, left: 0 });
  // The float64 computation lands on 1008: the test above would catch a float64 implementation.
  assert.equal(Math.trunc(1920 * Math.min(784 / 1080, 1008 / 1920)), 1008);
  assert.deepEqual(letterbox(1080, 1920, 336, 336), { canvasHeight: 336, canvasWidth: 336, contentHeight: 189, contentWidth: 336, top: 73, left: 0 });
});

void test("letterbox: worked examples of the reference doc", () => {
  assert.deepEqual(letterbox(300, 500, 336, 560), { canvasHeight: 336, canvasWidth: 560, contentHeight: 336, contentWidth: 560, top: 0, left: 0 });
  assert.deepEqual(letterbox(300, 500, 336, 336), { canvasHeight: 336, canvasWidth: 336, contentHeight: 201, contentWidth: 336, top: 67, left: 0 });
  assert.deepEqual(letterbox(1920, 1080, 1008, 784), { canvasHeight: 1008, canvasWidth: 784, contentHeight: 1007, contentWidth: 567, top: 0, left: 108 });
  assert.deepEqual(letterbox(100, 100, 336, 336), { canvasHeight: 336, canvasWidth: 336, contentHeight: 336, contentWidth: 336, top: 0, left: 0 });
});

void test("letterbox: a side that would be 0 pixels is kept at 1 (the reference raises there)", () => {
  const box = letterbox(2000, 1, 336, 336);
  assert.equal(box.contentHeight, 336);
  assert.equal(box.contentWidth, 1);
  assert.equal(box.left, 167);
});
