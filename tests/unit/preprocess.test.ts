import { test } from "node:test";
import assert from "node:assert/strict";
import { MOLMO_7B_D_PREPROCESSOR, preprocessImage, PreprocessError } from "../../models/preprocess";
import { resizeToUnitFloat } from "../../models/preprocess/resize";
import { resampleTriangle, triangleAxisFilter } from "../../models/preprocess/resample";
import type { RgbImage } from "../../models/image/types";
import { gradientRgb } from "../helpers/images";

const f32 = Math.fround;
const MEAN = MOLMO_7B_D_PREPROCESSOR.imageMean;
const STD = MOLMO_7B_D_PREPROCESSOR.imageStd;
/** The reference's normalisation of a [0, 1] value of channel c, in float32 steps. */
const normalise = (v: number, c: number) => f32(f32(f32(v) - f32(MEAN[c])) / f32(STD[c]));

function image(width: number, height: number): RgbImage {
  const { data } = gradientRgb(width, height);
  return { width, height, data };
}

void test("a 336x336 image is used unresized: crop values are the normalised bytes in patch order", async () => {
  const img = image(336, 336);
  const result = await preprocessImage(img);
  assert.equal(result.nCrops, 2);
  assert.deepEqual(result.tiling, { rows: 1, cols: 1 });
  // Patch (pr, pc), pixel (dy, dx), channel c of the global view and of the single high-res crop.
  for (const [crop, pr, pc, dy, dx, c] of [
    [0, 0, 0, 0, 0, 0],
    [0, 3, 17, 5, 9, 2],
    [1, 23, 23, 13, 13, 1],
    [1, 10, 2, 0, 13, 0],
  ]) {
    const y = pr * 14 + dy;
    const x = pc * 14 + dx;
    const got = result.crops[((crop * 576 + pr * 24 + pc) * 196 + dy * 14 + dx) * 3 + c];
    assert.equal(got, normalise(img.data[(y * 336 + x) * 3 + c] / 255, c), `crop ${crop} patch ${pr},${pc} pixel ${dy},${dx} channel ${c}`);
  }
  // No padding anywhere: every mask entry of the (only) high-res crop is 1; the shifted last row is -1.
  assert.ok(result.imageMasks.subarray(0, 576).every((v) => v === 1));
  assert.ok(result.imageMasks.subarray(576).every((v) => v === -1));
});

void test("padding pixels hold the normalised pad value and count as padding in the masks", async () => {
  const result = await preprocessImage(image(500, 300));
  // Global view: 201 rows of content, 67 padding rows on top. Patch row 0 is pure padding.
  for (let c = 0; c < 3; c++) assert.equal(result.crops[c], normalise(0, c));
  assert.equal(result.global.top, 67);
  // High-res 1x2 canvas is filled exactly (336x560), so both crop masks are all 1 and the last row -1.
  assert.deepEqual(result.tiling, { rows: 1, cols: 2 });
  assert.ok(result.imageMasks.subarray(0, 2 * 576).every((v) => v === 1));
  assert.ok(result.imageMasks.subarray(2 * 576).every((v) => v === -1));
});

void test("1920x1080: mask fractions of the doc, in the reference's shifted layout", async () => {
  const result = await preprocessImage(image(1920, 1080));
  assert.deepEqual(result.tiling, { rows: 3, cols: 4 });
  assert.deepEqual(result.highRes, { canvas: { width: 1008, height: 784 }, content: { width: 1007, height: 567 }, top: 108, left: 0 });
  const mask = (k: number, pr: number, pc: number) => result.imageMasks[k * 576 + pr * 24 + pc];
  // Row k describes high-res crop k (crops[k + 1]). Crop (0,0): patch rows 0-6 padding, row 7 is 4/14 real.
  assert.equal(mask(0, 6, 5), 0);
  assert.equal(mask(0, 7, 5), f32(4 / 14));
  assert.equal(mask(0, 8, 5), 1);
  // Right-most crops (j = 3): patch column 23 is 13/14 real.
  assert.equal(mask(3, 12, 23), f32(13 / 14));
  // Bottom row crops (i = 2): patch row 16 is 3/14 real, rows 17-23 padding.
  assert.equal(mask(8, 16, 0), f32(3 / 14));
  assert.equal(mask(8, 17, 0), 0);
  assert.ok(result.imageMasks.subarray(12 * 576).every((v) => v === -1));
  assert.equal(result.imageTokens.length, 1196);
  assert.equal(result.numPatchTokens, 1152);
});

void test("the input image is not modified", async () => {
  const img = image(640, 480);
  const before = Buffer.from(img.data);
  await preprocessImage(img);
  await preprocessImage(img, { ...MOLMO_7B_D_PREPROCESSOR, resizeBackend: "exact" });
  assert.ok(before.equals(img.data));
});

void test("extreme aspect ratios still work (1 px content side where the reference would raise)", async () => {
  const result = await preprocessImage(image(1, 2000));
  assert.deepEqual(result.tiling, { rows: 1, cols: 1 });
  assert.deepEqual(result.global.content, { width: 1, height: 336 });
  assert.equal(result.crops.length, 2 * 576 * 588);
  assert.ok(result.crops.every((v) => Number.isFinite(v)));
});

void test("invalid images and token ids are refused with PreprocessError", async () => {
  const cases: Array<[RgbImage, RegExp]> = [
    [{ width: 0, height: 10, data: new Uint8Array(0) }, /positive integers/],
    [{ width: 2.5, height: 10, data: new Uint8Array(75) }, /positive integers/],
    [{ width: 4, height: 4, data: new Uint8Array(47) }, /expected 48 bytes/],
  ];
  for (const [img, pattern] of cases) {
    await assert.rejects(preprocessImage(img), (error: unknown) => error instanceof PreprocessError && error.code === "invalid_image" && pattern.test(error.message));
  }
  await assert.rejects(
    preprocessImage(image(8, 8), MOLMO_7B_D_PREPROCESSOR, { imStart: 1, imEnd: 2, imPatch: -3, imCol: 4 }),
    (error: unknown) => error instanceof PreprocessError && error.code === "invalid_config" && /imPatch/.test(error.message),
  );
  await assert.rejects(
    preprocessImage(image(8, 8), { ...MOLMO_7B_D_PREPROCESSOR, overlapMargins: [3, 3] }),
    (error: unknown) => error instanceof PreprocessError && error.code === "invalid_config",
  );
});

void test("triangle filter: weights sum to 1, identity at scale 1, plain bilinear when enlarging", () => {
  for (const [inSize, outSize] of [[1920, 1007], [100, 336], [337, 336], [7, 3], [1, 336]]) {
    const filter = triangleAxisFilter(inSize, outSize);
    for (let i = 0; i < outSize; i++) {
      let sum = 0;
      for (let k = 0; k < filter.count[i]; k++) sum += filter.weights[i * filter.maxTaps + k];
      assert.ok(Math.abs(sum - 1) < 1e-6, `${inSize}->${outSize} output ${i} sums to ${sum}`);
      assert.ok(filter.start[i] >= 0 && filter.start[i] + filter.count[i] <= inSize);
    }
  }
  const identity = triangleAxisFilter(10, 10);
  for (let i = 0; i < 10; i++) {
    assert.equal(identity.start[i], i);
    assert.equal(identity.weights[i * identity.maxTaps], 1);
  }
  // 2 -> 4 (enlarging): centres at 0.25, 0.75, 1.25, 1.75 in source pixel units minus 0.5, clamped.
  const up = triangleAxisFilter(2, 4);
  const sample = (i: number, src: [number, number]) =>
    Array.from({ length: up.count[i] }, (_, k) => src[up.start[i] + k] * up.weights[i * up.maxTaps + k]).reduce((a, b) => a + b, 0);
  assert.deepEqual([0, 1, 2, 3].map((i) => sample(i, [0, 1])), [0, 0.25, 0.75, 1]);
});

void test("resampling: a constant image stays constant, a region equals the same part of the whole", async () => {
  const flat: RgbImage = { width: 123, height: 77, data: new Uint8Array(123 * 77 * 3).fill(200) };
  const out = resampleTriangle(flat, 31, 50);
  assert.ok(out.every((v) => Math.abs(v - 200 / 255) < 1e-6));
  const img = image(300, 200);
  const whole = resampleTriangle(img, 90, 140);
  const region = resampleTriangle(img, 90, 140, { y0: 10, y1: 20, x0: 30, x1: 45 });
  for (let y = 10; y < 20; y++) {
    for (let x = 30; x < 45; x++) {
      for (let c = 0; c < 3; c++) assert.equal(region[((y - 10) * 15 + (x - 30)) * 3 + c], whole[(y * 140 + x) * 3 + c]);
    }
  }
  // The sharp backend agrees with exact on the border rows/columns it recomputes, and closely inside.
  const viaSharp = await resizeToUnitFloat(img, 90, 140, "sharp");
  for (const [y, x] of [[0, 0], [0, 77], [89, 139], [45, 1], [88, 60]]) {
    for (let c = 0; c < 3; c++) assert.equal(viaSharp[(y * 140 + x) * 3 + c], whole[(y * 140 + x) * 3 + c]);
  }
  let max = 0;
  for (let i = 0; i < whole.length; i++) max = Math.max(max, Math.abs(viaSharp[i] - whole[i]));
  assert.ok(max < 0.03, `sharp interior differs by ${max} in [0, 1] units`);
});
