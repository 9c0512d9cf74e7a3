import type { CropGeometry } from "./crops";
import type { Letterbox } from "./letterbox";
import type { Normaliser } from "./normalise";
import type { FloatRegion, ResizedImage } from "./resize";

/**
 * Writing the normalised, patchified crops of one letterboxed view straight from its resized pixels.
 *
 * Output layout (the reference's `pixels_to_patches`): crop-major, then patch in raster order
 * (patch_row * patchesPerSide + patch_col), then within a patch (dy, dx, channel) with the channel
 * fastest: value index = (dy * patchSize + dx) * 3 + c.
 *
 * Why it is shaped this way (speed, measured on a 1920x1080 screenshot, see NOTES.md "Speed"):
 * - No padded float canvas: every value is produced where it belongs in the output, from the 8-bit
 *   resized pixels through the per-channel byte tables (or from the padding value), in one pass. The
 *   canvas cost an extra 9.5 MB written and read back per image.
 * - Neighbouring crops overlap by whole patches (the stride is a whole number of patches), so each
 *   patch is computed once and its copies in later crops are block copies (`copyWithin`, a memmove)
 *   of the same values from the crop above or to the left: 42% of the high-resolution values of a
 *   3x4 tiling (2880 of its 6912 patches).
 */

/** The crops cut from one letterboxed view, and where they go in the output. */
export interface CropGrid {
  /** Where the resized image sits in the view's padded canvas. */
  readonly box: Letterbox;
  readonly rows: number;
  readonly cols: number;
  /** Distance between the origins of neighbouring crops in pixels; a multiple of the patch size. */
  readonly stride: number;
  /** Index in the output of the first value of crop (0, 0); the others follow in raster order. */
  readonly offset: number;
}

/**
 * Writes the normalised patches of every crop of `grid` into `target`, reading the pixels from
 * `resized` (which fills `grid.box`'s content rectangle) and the normalised padding value elsewhere.
 * Values are bit-identical to normalising a padded float canvas and then cutting it into patches.
 */
export function writeCrops(
  target: Float32Array,
  resized: ResizedImage,
  grid: CropGrid,
  geometry: CropGeometry,
  normaliser: Normaliser,
): void {
  const { box } = grid;
  if (resized.width !== box.contentWidth || resized.height !== box.contentHeight) {
    throw new RangeError(`resized image is ${resized.width}x${resized.height}, the letterbox wants ${box.contentWidth}x${box.contentHeight}`);
  }
  const [pad0, pad1, pad2] = normaliser.pad;
  if (resized.kind === "bytes") {
    const [t0, t1, t2] = normaliser.byteTables;
    const source: ByteSource = { box, bytes: resized.bytes, t0, t1, t2, pad0, pad1, pad2 };
    writeGrid(target, grid, geometry, (o, y, x, patches) => writeByteRow(source, target, o, y, x, patches, geometry.patchSize));
    for (const region of resized.exact) overwriteRegion(target, grid, geometry, normaliser, region);
  } else {
    const pixels = new Float32Array(resized.pixels.length);
    normaliser.floatsInto(resized.pixels, resized.width, resized.height, { data: pixels, offset: 0, rowValues: resized.width * 3 });
    const source: FloatSource = { box, pixels, pad0, pad1, pad2 };
    writeGrid(target, grid, geometry, (o, y, x, patches) => writeFloatRow(source, target, o, y, x, patches, geometry.patchSize));
  }
}

/**
 * Writes pixel row `y` of the canvas, from canvas column `x` on, as row `dy` of `patches` consecutive
 * patches, the first of which starts its row `dy` at output index `o`.
 */
type RowWriter = (o: number, y: number, x: number, patches: number) => void;

/** Walks the crops of `grid`, computing each patch once and copying the patches shared with earlier crops. */
function writeGrid(target: Float32Array, grid: CropGrid, geometry: CropGeometry, writeRow: RowWriter): void {
  const { cropSize, patchSize } = geometry;
  const perSide = cropSize / patchSize;
  const stride = grid.stride / patchSize;
  if (!Number.isInteger(stride) || stride < 1) {
    throw new RangeError(`crop stride ${grid.stride} is not a positive multiple of the patch size ${patchSize}`);
  }
  const patchValues = patchSize * patchSize * 3;
  const patchRowValues = perSide * patchValues;
  const cropValues = perSide * patchRowValues;
  // Patch rows (columns) a crop shares with the crop above (to the left): its first `shared`, their last.
  const shared = Math.max(0, perSide - stride);
  const cropStart = (i: number, j: number) => grid.offset + (i * grid.cols + j) * cropValues;

  for (let i = 0; i < grid.rows; i++) {
    for (let j = 0; j < grid.cols; j++) {
      const start = cropStart(i, j);
      let firstRow = 0;
      if (i > 0 && shared > 0) {
        // Rows [0, shared) are rows [stride, perSide) of the crop above: one contiguous block.
        const from = cropStart(i - 1, j) + stride * patchRowValues;
        target.copyWithin(start, from, from + shared * patchRowValues);
        firstRow = shared;
      }
      for (let pr = firstRow; pr < perSide; pr++) {
        const rowStart = start + pr * patchRowValues;
        let firstCol = 0;
        if (j > 0 && shared > 0) {
          // Patches [0, shared) of this row are patches [stride, perSide) of the crop to the left.
          const from = cropStart(i, j - 1) + pr * patchRowValues + stride * patchValues;
          target.copyWithin(rowStart, from, from + shared * patchValues);
          firstCol = shared;
        }
        const y = i * grid.stride + pr * patchSize;
        const x = j * grid.stride + firstCol * patchSize;
        for (let dy = 0; dy < patchSize; dy++) {
          writeRow(rowStart + firstCol * patchValues + dy * patchSize * 3, y + dy, x, perSide - firstCol);
        }
      }
    }
  }
}

/** 8-bit resized pixels placed in a canvas, with the lookup tables and padding that normalise them. */
interface ByteSource {
  readonly box: Letterbox;
  readonly bytes: Uint8Array;
  readonly t0: Float32Array;
  readonly t1: Float32Array;
  readonly t2: Float32Array;
  readonly pad0: number;
  readonly pad1: number;
  readonly pad2: number;
}

/** See {@link RowWriter}; values from 8-bit pixels through the byte tables. */
function writeByteRow(src: ByteSource, out: Float32Array, o: number, y: number, x: number, patches: number, patchSize: number): void {
  const { box, bytes, t0, t1, t2, pad0, pad1, pad2 } = src;
  const patchValues = patchSize * patchSize * 3;
  const cy = y - box.top;
  if (cy < 0 || cy >= box.contentHeight) {
    writePadRow(out, o, patches, patchSize, pad0, pad1, pad2);
    return;
  }
  const width = box.contentWidth;
  const rowStart = cy * width * 3;
  for (let p = 0; p < patches; p++, o += patchValues) {
    const cx = x + p * patchSize - box.left;
    if (cx >= 0 && cx + patchSize <= width) {
      // The common case: the whole segment is image content.
      for (let q = o, i = rowStart + cx * 3, end = o + patchSize * 3; q < end; q += 3, i += 3) {
        out[q] = t0[bytes[i]];
        out[q + 1] = t1[bytes[i + 1]];
        out[q + 2] = t2[bytes[i + 2]];
      }
    } else {
      for (let d = 0, q = o; d < patchSize; d++, q += 3) {
        const c = cx + d;
        if (c >= 0 && c < width) {
          const i = rowStart + c * 3;
          out[q] = t0[bytes[i]];
          out[q + 1] = t1[bytes[i + 1]];
          out[q + 2] = t2[bytes[i + 2]];
        } else {
          out[q] = pad0;
          out[q + 1] = pad1;
          out[q + 2] = pad2;
        }
      }
    }
  }
}

/** Normalised float pixels placed in a canvas, with the normalised padding. */
interface FloatSource {
  readonly box: Letterbox;
  readonly pixels: Float32Array;
  readonly pad0: number;
  readonly pad1: number;
  readonly pad2: number;
}

/** See {@link RowWriter}; values copied from already normalised float pixels. */
function writeFloatRow(src: FloatSource, out: Float32Array, o: number, y: number, x: number, patches: number, patchSize: number): void {
  const { box, pixels, pad0, pad1, pad2 } = src;
  const patchValues = patchSize * patchSize * 3;
  const cy = y - box.top;
  if (cy < 0 || cy >= box.contentHeight) {
    writePadRow(out, o, patches, patchSize, pad0, pad1, pad2);
    return;
  }
  const width = box.contentWidth;
  const rowStart = cy * width * 3;
  for (let p = 0; p < patches; p++, o += patchValues) {
    const cx = x + p * patchSize - box.left;
    for (let d = 0, q = o; d < patchSize; d++, q += 3) {
      const c = cx + d;
      if (c >= 0 && c < width) {
        const i = rowStart + c * 3;
        out[q] = pixels[i];
        out[q + 1] = pixels[i + 1];
        out[q + 2] = pixels[i + 2];
      } else {
        out[q] = pad0;
        out[q + 1] = pad1;
        out[q + 2] = pad2;
      }
    }
  }
}

function writePadRow(out: Float32Array, o: number, patches: number, patchSize: number, pad0: number, pad1: number, pad2: number): void {
  const patchValues = patchSize * patchSize * 3;
  for (let p = 0; p < patches; p++, o += patchValues) {
    for (let q = o, end = o + patchSize * 3; q < end; q += 3) {
      out[q] = pad0;
      out[q + 1] = pad1;
      out[q + 2] = pad2;
    }
  }
}

/**
 * Replaces the values of the pixels of `region` (resized-image coordinates, unit floats) in every crop
 * that contains them: applied after all crops are written, so copies made of shared patches are
 * covered too. Used for the few border pixels the sharp backend recomputes exactly.
 */
function overwriteRegion(target: Float32Array, grid: CropGrid, geometry: CropGeometry, normaliser: Normaliser, exact: FloatRegion): void {
  const { cropSize, patchSize } = geometry;
  const perSide = cropSize / patchSize;
  const patchValues = patchSize * patchSize * 3;
  const cropValues = perSide * perSide * patchValues;
  const { region, pixels } = exact;
  const { box, stride } = grid;
  // Output offsets contributed by a canvas row (column): one per crop row (column) that contains it.
  const offsetsOf = (v: number, count: number, along: (local: number) => number, cropStep: number): number[] => {
    const offsets: number[] = [];
    for (let k = Math.max(0, Math.ceil((v - cropSize + 1) / stride)); k <= Math.min(count - 1, Math.floor(v / stride)); k++) {
      offsets.push(k * cropStep + along(v - k * stride));
    }
    return offsets;
  };
  const down = (y: number) => Math.floor(y / patchSize) * perSide * patchValues + (y % patchSize) * patchSize * 3;
  const across = (x: number) => Math.floor(x / patchSize) * patchValues + (x % patchSize) * 3;
  const columns: number[][] = [];
  for (let rx = region.x0; rx < region.x1; rx++) columns.push(offsetsOf(box.left + rx, grid.cols, across, cropValues));

  let k = 0;
  for (let ry = region.y0; ry < region.y1; ry++) {
    const rows = offsetsOf(box.top + ry, grid.rows, down, grid.cols * cropValues);
    for (const column of columns) {
      const v0 = normaliser.value(pixels[k++], 0);
      const v1 = normaliser.value(pixels[k++], 1);
      const v2 = normaliser.value(pixels[k++], 2);
      for (const row of rows) {
        for (const col of column) {
          const o = grid.offset + row + col;
          target[o] = v0;
          target[o + 1] = v1;
          target[o + 2] = v2;
        }
      }
    }
  }
}
