import { test } from "node:test";
import assert from "node:assert/strict";
import { MOLMO_7B_D_PREPROCESSOR, validatePreprocessorConfig, type MolmoPreprocessorConfig } from "../../models/preprocess/config";
import { axisLayout, buildImageInputIdx, buildImageTokens, DROPPED_SLOT } from "../../models/preprocess/tokens";
import { QWEN2_IMAGE_TOKENS } from "../../models/preprocess/types";

const ids = QWEN2_IMAGE_TOKENS;
const count = (tokens: Int32Array, id: number) => tokens.reduce((n, t) => n + (t === id ? 1 : 0), 0);

void test("token counts of the reference doc's worked examples", () => {
  const cases: Array<[number, number, number, number]> = [
    // rows, cols, image tokens, <im_patch> tokens
    [3, 4, 1196, 1152], // 1920x1080
    [4, 3, 1204, 1152], // 1080x1920
    [1, 2, 412, 384], // 500x300
    [1, 1, 316, 288], // 336x336 and 100x100
  ];
  for (const [rows, cols, total, patches] of cases) {
    const tokens = buildImageTokens({ rows, cols }, MOLMO_7B_D_PREPROCESSOR, ids);
    assert.equal(tokens.length, total, `${rows}x${cols} tokens`);
    assert.equal(count(tokens, ids.imPatch), patches, `${rows}x${cols} patch tokens`);
    assert.equal(count(tokens, ids.imStart), 2);
    assert.equal(count(tokens, ids.imEnd), 2);
  }
});

void test("layout: low-res view first (12 rows of 12 patches + <im_col>), then the high-res grid", () => {
  const tokens = buildImageTokens({ rows: 3, cols: 4 }, MOLMO_7B_D_PREPROCESSOR, ids);
  assert.equal(tokens[0], ids.imStart);
  assert.deepEqual(Array.from(tokens.subarray(1, 14)), [...Array<number>(12).fill(ids.imPatch), ids.imCol]);
  assert.equal(tokens[157], ids.imEnd);
  assert.equal(tokens[158], ids.imStart);
  // 28 rows of 36 patches + <im_col>.
  assert.deepEqual(Array.from(tokens.subarray(159, 159 + 37)), [...Array<number>(36).fill(ids.imPatch), ids.imCol]);
  assert.equal(tokens[159 + 28 * 37], ids.imEnd);
  assert.equal(tokens.length, 159 + 28 * 37 + 1);
});

void test("500x300 positions from the doc (shifted by -1: no BOS here)", () => {
  const tiling = { rows: 1, cols: 2 };
  const tokens = buildImageTokens(tiling, MOLMO_7B_D_PREPROCESSOR, ids);
  const idx = buildImageInputIdx(tiling, MOLMO_7B_D_PREPROCESSOR, tokens, ids);
  assert.equal(idx.length, 3 * 144);
  // Low-res row 0 -> 1..12 and its <im_col> at 13.
  assert.deepEqual(Array.from(idx.subarray(0, 12)), Array.from({ length: 12 }, (_, c) => 1 + c));
  assert.equal(tokens[13], ids.imCol);
  assert.equal(tokens[158], ids.imStart);
  // Hi-res row r, column c at 159 + 21 r + c; crop 1 keeps columns 0-9, crop 2 columns 2-11.
  const crop1Row0 = Array.from(idx.subarray(144, 156));
  assert.deepEqual(crop1Row0, [...Array.from({ length: 10 }, (_, c) => 159 + c), DROPPED_SLOT, DROPPED_SLOT]);
  const crop2Row0 = Array.from(idx.subarray(288, 300));
  assert.deepEqual(crop2Row0, [DROPPED_SLOT, DROPPED_SLOT, ...Array.from({ length: 10 }, (_, c) => 169 + c)]);
  const crop2Row11 = Array.from(idx.subarray(288 + 11 * 12, 300 + 11 * 12));
  assert.deepEqual(crop2Row11, [DROPPED_SLOT, DROPPED_SLOT, ...Array.from({ length: 10 }, (_, c) => 159 + 21 * 11 + 10 + c)]);
  assert.equal(tokens[411], ids.imEnd);
  assert.equal(tokens.length, 412);
});

void test("kept pooled tokens per crop for 3x4: corners 100, edges 80, inner 64 (sum 1008)", () => {
  const tiling = { rows: 3, cols: 4 };
  const tokens = buildImageTokens(tiling, MOLMO_7B_D_PREPROCESSOR, ids);
  const idx = buildImageInputIdx(tiling, MOLMO_7B_D_PREPROCESSOR, tokens, ids);
  const kept = Array.from({ length: 13 }, (_, k) => idx.subarray(k * 144, (k + 1) * 144).filter((v) => v >= 0).length);
  assert.deepEqual(kept, [144, 100, 80, 80, 100, 80, 64, 64, 80, 100, 80, 80, 100]);
});

/** Every <im_patch> position is used exactly once and nothing else is pointed at. */
function assertBijective(config: MolmoPreprocessorConfig, rows: number, cols: number): void {
  const tokens = buildImageTokens({ rows, cols }, config, ids);
  const idx = buildImageInputIdx({ rows, cols }, config, tokens, ids);
  const used = Array.from(idx).filter((v) => v !== DROPPED_SLOT);
  assert.ok(idx.every((v) => v === DROPPED_SLOT || v >= 0), "only valid positions or the dropped marker");
  assert.equal(new Set(used).size, used.length, "no position used twice");
  assert.equal(used.length, count(tokens, ids.imPatch), "one slot per <im_patch>");
  assert.ok(used.every((p) => tokens[p] === ids.imPatch), "every index points at an <im_patch>");
}

void test("index is a bijection onto <im_patch> tokens for every tiling", () => {
  for (let rows = 1; rows <= 12; rows++) {
    for (let cols = 1; rows * cols <= 12; cols++) assertBijective(MOLMO_7B_D_PREPROCESSOR, rows, cols);
  }
});

void test("high-res slots follow global raster order: left to right across crops, then down", () => {
  const tiling = { rows: 2, cols: 2 };
  const tokens = buildImageTokens(tiling, MOLMO_7B_D_PREPROCESSOR, ids);
  const idx = buildImageInputIdx(tiling, MOLMO_7B_D_PREPROCESSOR, tokens, ids);
  const gridCols = 20; // 10 kept by each of the 2 crops
  const position = (R: number, C: number) => 158 + 1 + R * (gridCols + 1) + C;
  // Crop (0,1) = crop index 2: slot (r, c) with c >= 2 is grid cell (r, 10 + c - 2).
  assert.equal(idx[2 * 144 + 3 * 12 + 5], position(3, 13));
  // Crop (1,0) = crop index 3: slot (r, c) with r >= 2 is grid cell (10 + r - 2, c).
  assert.equal(idx[3 * 144 + 7 * 12 + 9], position(15, 9));
  assert.equal(idx[3 * 144 + 1 * 12 + 9], DROPPED_SLOT);
});

void test("parametrised by the config: other margins, and no <im_col> tokens", () => {
  const margins2 = validatePreprocessorConfig({ ...MOLMO_7B_D_PREPROCESSOR, overlapMargins: [2, 2] });
  const layout = axisLayout(3, 24, [2, 2], 2);
  assert.deepEqual(layout, { keptStart: [0, 1, 1], keptCount: [11, 10, 11], gridStart: [0, 11, 21], gridLength: 32 });
  for (const [rows, cols] of [[1, 1], [2, 3], [3, 4]]) assertBijective(margins2, rows, cols);

  const asymmetric = validatePreprocessorConfig({ ...MOLMO_7B_D_PREPROCESSOR, overlapMargins: [2, 6] });
  for (const [rows, cols] of [[1, 2], [3, 3]]) assertBijective(asymmetric, rows, cols);

  const noCols = validatePreprocessorConfig({ ...MOLMO_7B_D_PREPROCESSOR, useColTokens: false });
  const tokens = buildImageTokens({ rows: 1, cols: 2 }, noCols, ids);
  assert.equal(count(tokens, ids.imCol), 0);
  assert.equal(tokens.length, 2 + 144 + 2 + 12 * 20);
  assertBijective(noCols, 2, 2);
});
