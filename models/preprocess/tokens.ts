import type { MolmoPreprocessorConfig } from "./config";
import type { Tiling } from "./tiling";
import type { ImageSpecialTokens } from "./types";

/** Value of `image_input_idx` for a pooled slot that is dropped (overlap margin), as in the reference. */
export const DROPPED_SLOT = -100;

/**
 * Which pooled rows (or columns) of each crop along one axis are kept, and where they land in the
 * high-resolution token grid. The reference (allenai/molmo `MultiModalPreprocessor.image_to_patches_and_tokens`,
 * crop mode overlap-and-resize-c2) keeps, per crop, `ceil(patches / pooling)` pooled slots starting at
 * 0 for the first crop and at `leftMargin / pooling` otherwise, where `patches` is the crop minus the
 * margins on its interior sides.
 */
export interface AxisLayout {
  /** First kept pooled slot in each crop. */
  readonly keptStart: readonly number[];
  /** Number of kept pooled slots in each crop. */
  readonly keptCount: readonly number[];
  /** Index in the high-resolution grid of each crop's first kept slot. */
  readonly gridStart: readonly number[];
  /** Length of the high-resolution grid along this axis. */
  readonly gridLength: number;
}

/** Computes the kept slots along one axis for `tiles` crops. */
export function axisLayout(tiles: number, cropPatches: number, margins: readonly [number, number], pooling: number): AxisLayout {
  const [left, right] = margins;
  const keptStart: number[] = [];
  const keptCount: number[] = [];
  const gridStart: number[] = [];
  let position = 0;
  for (let i = 0; i < tiles; i++) {
    let patches = cropPatches - (left + right);
    if (i === 0) patches += left;
    if (i === tiles - 1) patches += right;
    keptStart.push(i === 0 ? 0 : left / pooling);
    const count = Math.ceil(patches / pooling);
    keptCount.push(count);
    gridStart.push(position);
    position += count;
  }
  return { keptStart, keptCount, gridStart, gridLength: position };
}

/** Pooled rows x columns of the high-resolution view for a tiling. */
export function highResGrid(tiling: Tiling, config: MolmoPreprocessorConfig): { rows: AxisLayout; cols: AxisLayout } {
  const cropPatches = config.baseImageInputSize[0] / config.imagePatchSize;
  return {
    rows: axisLayout(tiling.rows, cropPatches, config.overlapMargins, config.imagePoolingH),
    cols: axisLayout(tiling.cols, cropPatches, config.overlapMargins, config.imagePoolingW),
  };
}

/**
 * The image-token sequence of one image (no BOS, no text): the low-resolution view
 * `<im_start>`, tokenLengthH rows of (tokenLengthW `<im_patch>` [+ `<im_col>`]), `<im_end>`, then the
 * high-resolution view the same way with the grid of {@link highResGrid}.
 */
export function buildImageTokens(tiling: Tiling, config: MolmoPreprocessorConfig, ids: ImageSpecialTokens): Int32Array {
  const grid = highResGrid(tiling, config);
  const views: Array<[number, number]> = [
    [config.imageTokenLengthH, config.imageTokenLengthW],
    [grid.rows.gridLength, grid.cols.gridLength],
  ];
  const perRowExtra = config.useColTokens ? 1 : 0;
  const length = views.reduce((sum, [rows, cols]) => sum + 2 + rows * (cols + perRowExtra), 0);
  const tokens = new Int32Array(length);
  let o = 0;
  for (const [rows, cols] of views) {
    tokens[o++] = ids.imStart;
    for (let r = 0; r < rows; r++) {
      tokens.fill(ids.imPatch, o, o + cols);
      o += cols;
      if (config.useColTokens) tokens[o++] = ids.imCol;
    }
    tokens[o++] = ids.imEnd;
  }
  return tokens;
}

/**
 * `image_input_idx` [nCrops, tokenLengthH * tokenLengthW], row-major: for crop k (0 = global view, then
 * the high-resolution crops in row-major order) and pooled slot s (raster), the position in `tokens` of
 * the `<im_patch>` token that receives the slot's feature, or {@link DROPPED_SLOT}.
 *
 * The reference builds this through a "patch ordering" and two inverse permutations; they compose to a
 * direct rule, used here: the global view's slots take the low-resolution patch tokens in raster order,
 * and a kept high-resolution slot takes the patch token of its cell in the full grid in global raster
 * order (left to right across crops, then down). Positions are relative to the image tokens: a caller
 * that prepends BOS or text must add that offset to the non-negative entries.
 */
export function buildImageInputIdx(
  tiling: Tiling,
  config: MolmoPreprocessorConfig,
  tokens: Int32Array,
  ids: ImageSpecialTokens,
): Int32Array {
  const tokensH = config.imageTokenLengthH;
  const tokensW = config.imageTokenLengthW;
  const perCrop = tokensH * tokensW;
  const patchPositions: number[] = [];
  tokens.forEach((id, position) => {
    if (id === ids.imPatch) patchPositions.push(position);
  });
  const grid = highResGrid(tiling, config);
  const gridCols = grid.cols.gridLength;
  const nCrops = 1 + tiling.rows * tiling.cols;
  const idx = new Int32Array(nCrops * perCrop).fill(DROPPED_SLOT);
  for (let s = 0; s < perCrop; s++) idx[s] = patchPositions[s];

  for (let i = 0; i < tiling.rows; i++) {
    for (let j = 0; j < tiling.cols; j++) {
      const base = (1 + i * tiling.cols + j) * perCrop;
      for (let r = 0; r < grid.rows.keptCount[i]; r++) {
        const slotRow = grid.rows.keptStart[i] + r;
        const gridRow = grid.rows.gridStart[i] + r;
        for (let c = 0; c < grid.cols.keptCount[j]; c++) {
          const slotCol = grid.cols.keptStart[j] + c;
          const gridCol = grid.cols.gridStart[j] + c;
          idx[base + slotRow * tokensW + slotCol] = patchPositions[perCrop + gridRow * gridCols + gridCol];
        }
      }
    }
  }
  return idx;
}
