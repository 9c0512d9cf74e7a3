/**
 * The fused crop writer (models/preprocess/patchify.ts) against the plain way of doing the same thing:
 * build each view's padded canvas of normalised float32 values, then cut it into crops and patches
 * value by value. The fused writer skips the canvas, reads 8-bit pixels through lookup tables, copies
 * the patches neighbouring crops share and overwrites the exactly recomputed border afterwards, so
 * this checks, bit for bit, that none of that changes a value: odd sizes, padding on every side,
 * enlargements (float path), unresized images (identity), both backends, and margins that make crops
 * overlap by none, some or more than a stride.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RgbImage } from "../../models/image/types";
import { MOLMO_7B_D_PREPROCESSOR, preprocessImage, type MolmoPreprocessorConfig } from "../../models/preprocess";
import { letterbox, type Letterbox } from "../../models/preprocess/letterbox";
import { resizeImage, type ResizedImage } from "../../models/preprocess/resize";
import { gradientRgb } from "../helpers/images";

const f32 = Math.fround;

/** Seeded noise: hard edges everywhere, so a value taken from the wrong pixel cannot go unnoticed. */
function noise(width: number, height: number, seed: number): RgbImage {
  let state = seed >>> 0;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, data };
}

/** The view's padded canvas, HWC, every value normalised as the reference does (float32 steps). */
function normalisedCanvas(resized: ResizedImage, box: Letterbox, cfg: MolmoPreprocessorConfig): Float32Array {
  const normalise = (v: number, c: number) => f32(f32(v - f32(cfg.imageMean[c])) / f32(cfg.imageStd[c]));
  const unit = new Float32Array(resized.width * resized.height * 3);
  if (resized.kind === "floats") {
    unit.set(resized.pixels);
  } else {
    for (let i = 0; i < unit.length; i++) unit[i] = resized.bytes[i] / 255;
    for (const { region, pixels } of resized.exact) {
      let k = 0;
      for (let y = region.y0; y < region.y1; y++) {
        for (let x = region.x0; x < region.x1; x++) {
          for (let c = 0; c < 3; c++) unit[(y * resized.width + x) * 3 + c] = pixels[k++];
        }
      }
    }
  }
  const canvas = new Float32Array(box.canvasHeight * box.canvasWidth * 3);
  for (let y = 0; y < box.canvasHeight; y++) {
    for (let x = 0; x < box.canvasWidth; x++) {
      const cy = y - box.top;
      const cx = x - box.left;
      const inside = cy >= 0 && cy < box.contentHeight && cx >= 0 && cx < box.contentWidth;
      for (let c = 0; c < 3; c++) {
        const v = inside ? unit[(cy * box.contentWidth + cx) * 3 + c] : f32(cfg.padValue);
        canvas[(y * box.canvasWidth + x) * 3 + c] = normalise(v, c);
      }
    }
  }
  return canvas;
}

/** Crop (y0, x0) of `canvas`, patchified (patch raster order, then dy, dx, channel), appended to `out`. */
function appendCrop(out: number[], canvas: Float32Array, canvasWidth: number, y0: number, x0: number, cfg: MolmoPreprocessorConfig): void {
  const crop = cfg.baseImageInputSize[0];
  const patch = cfg.imagePatchSize;
  for (let pr = 0; pr < crop / patch; pr++) {
    for (let pc = 0; pc < crop / patch; pc++) {
      for (let dy = 0; dy < patch; dy++) {
        for (let dx = 0; dx < patch; dx++) {
          const p = ((y0 + pr * patch + dy) * canvasWidth + x0 + pc * patch + dx) * 3;
          out.push(canvas[p], canvas[p + 1], canvas[p + 2]);
        }
      }
    }
  }
}

/** All crops the plain way, for the tiling and letterboxes preprocessImage reported. */
async function cropsViaCanvas(image: RgbImage, cfg: MolmoPreprocessorConfig, tiling: { rows: number; cols: number }): Promise<Float32Array> {
  const crop = cfg.baseImageInputSize[0];
  const patch = cfg.imagePatchSize;
  const [left, right] = cfg.overlapMargins;
  const window = (crop / patch - left - right) * patch;
  const margin = (left + right) * patch;
  const views = [
    { box: letterbox(image.height, image.width, crop, crop), rows: 1, cols: 1 },
    { box: letterbox(image.height, image.width, tiling.rows * window + margin, tiling.cols * window + margin), ...tiling },
  ];
  const out: number[] = [];
  for (const { box, rows, cols } of views) {
    const resized = await resizeImage(image, box.contentHeight, box.contentWidth, cfg.resizeBackend);
    const canvas = normalisedCanvas(resized, box, cfg);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) appendCrop(out, canvas, box.canvasWidth, i * window, j * window, cfg);
  }
  return Float32Array.from(out);
}

function firstDifference(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

const cases: Array<[string, RgbImage, Partial<MolmoPreprocessorConfig>]> = [
  // Shrunk by sharp with the exact border, 3x4 tiling: border pixels inside overlapping crops.
  ["1920x1080 noise", noise(1920, 1080, 1), {}],
  ["1080x1920 gradient", { ...gradientRgb(1080, 1920) }, {}],
  ["641x479 noise, odd content and padding on both sides", noise(641, 479, 2), {}],
  ["999x17 noise, a thin strip", noise(999, 17, 3), {}],
  ["53x701 noise, padded left and right", noise(53, 701, 4), {}],
  // Enlarged (float path) and unresized (bytes used as they are).
  ["337x335 noise, enlarged", noise(337, 335, 5), {}],
  ["13x77 noise, enlarged a lot", noise(13, 77, 6), {}],
  ["336x336 noise, not resized", noise(336, 336, 7), {}],
  ["1x1", noise(1, 1, 8), {}],
  ["2000x1, one-pixel content", noise(2000, 1, 9), {}],
  // Exact backend, no overlap between crops, overlap wider than the stride, other crop geometry.
  ["700x500 noise, exact backend", noise(700, 500, 10), { resizeBackend: "exact" }],
  ["900x700 noise, margins 0 (crops do not overlap)", noise(900, 700, 11), { overlapMargins: [0, 0] }],
  ["900x700 noise, margins 8+8 (overlap 16 patches, stride 8), pad 0.5", noise(900, 700, 12), { overlapMargins: [8, 8], padValue: 0.5 }],
  ["800x600 noise, margins 6+2, max 4 crops", noise(800, 600, 13), { overlapMargins: [6, 2], maxCrops: 4 }],
  [
    "500x410 noise, 224 px crops of 16 px patches",
    noise(500, 410, 14),
    { baseImageInputSize: [224, 224], imagePatchSize: 16, imageTokenLengthH: 7, imageTokenLengthW: 7, overlapMargins: [2, 2] },
  ],
];

for (const [name, image, overrides] of cases) {
  void test(`fused crop writer = canvas then patchify, bit for bit: ${name}`, async () => {
    const cfg: MolmoPreprocessorConfig = { ...MOLMO_7B_D_PREPROCESSOR, ...overrides };
    const input: RgbImage = { width: image.width, height: image.height, data: image.data };
    const result = await preprocessImage(input, cfg);
    const expected = await cropsViaCanvas(input, cfg, result.tiling);
    assert.equal(result.crops.length, expected.length, "number of crop values");
    const at = firstDifference(result.crops, expected);
    assert.equal(at, -1, at < 0 ? "" : `value ${at} is ${result.crops[at]}, the canvas gives ${expected[at]}`);
  });
}

void test("the returned crops are an ordinary Float32Array on its own ArrayBuffer", async () => {
  const result = await preprocessImage(noise(640, 480, 15));
  assert.ok(result.crops instanceof Float32Array);
  assert.ok(result.crops.buffer instanceof ArrayBuffer, "not a SharedArrayBuffer (onnxruntime-node refuses those)");
  assert.equal(result.crops.byteOffset, 0);
  assert.equal(result.crops.buffer.byteLength, result.crops.byteLength, "nothing else shares the buffer");
});
