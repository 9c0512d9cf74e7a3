import type { Letterbox } from "./letterbox";
import type { PixelTarget } from "./normalise";

/**
 * Cutting a letterboxed canvas into ViT crops, patchified, plus the per-patch padding fractions.
 *
 * Output layout (the reference's `pixels_to_patches`): crop-major, then patch in raster order
 * (patch_row * patchesPerSide + patch_col), then within a patch (dy, dx, channel) with the channel
 * fastest: value index = (dy * patchSize + dx) * 3 + c.
 */

const f32 = Math.fround;

/**
 * An uninitialised Float32Array (every element is written before it is read by the callers here), which
 * skips the zero-filling of `new Float32Array(n)`: ~3 ms per 1920x1080 image.
 */
export function uninitialisedFloat32(length: number): Float32Array {
  return new Float32Array(Buffer.allocUnsafeSlow(length * 4).buffer, 0, length);
}

/** Crop and patch sizes in pixels. */
export interface CropGeometry {
  readonly cropSize: number;
  readonly patchSize: number;
}

/**
 * A canvas for `box`, HWC float32, with every padding pixel set to `pad` and the content rectangle left
 * for the caller to fill through the returned `content` target (so the resize writes straight into it).
 */
export function paddedCanvas(box: Letterbox, pad: Float32Array): { canvas: Float32Array; content: PixelTarget } {
  const rowValues = box.canvasWidth * 3;
  const canvas = uninitialisedFloat32(box.canvasHeight * rowValues);
  const padRow = new Float32Array(rowValues);
  for (let i = 0; i < rowValues; i += 3) padRow.set(pad, i);
  const leftValues = box.left * 3;
  const rightStart = leftValues + box.contentWidth * 3;
  for (let y = 0; y < box.canvasHeight; y++) {
    const row = y * rowValues;
    if (y < box.top || y >= box.top + box.contentHeight) {
      canvas.set(padRow, row);
    } else {
      canvas.set(padRow.subarray(0, leftValues), row);
      canvas.set(padRow.subarray(rightStart), row + rightStart);
    }
  }
  return { canvas, content: { data: canvas, offset: box.top * rowValues + leftValues, rowValues } };
}

/**
 * Writes the patches of the `cropSize`-pixel square crop whose top-left canvas pixel is (y0, x0) into
 * `target` starting at value `offset`.
 *
 * Values must be finite: when every offset is even the copy moves pairs of float32 as one float64 (half
 * the loop iterations), and a pair of finite float32 is never a float64 NaN, so no bits can change.
 */
export function writeCropPatches(
  target: Float32Array,
  offset: number,
  canvas: Float32Array,
  canvasWidth: number,
  y0: number,
  x0: number,
  geometry: CropGeometry,
): void {
  const { cropSize, patchSize } = geometry;
  const perSide = cropSize / patchSize;
  const patchValues = patchSize * patchSize * 3;
  const rowValues = patchSize * 3;
  const canvasRowValues = canvasWidth * 3;
  const pairs =
    rowValues % 2 === 0 &&
    patchValues % 2 === 0 &&
    canvasRowValues % 2 === 0 &&
    (x0 * 3) % 2 === 0 &&
    offset % 2 === 0 &&
    target.byteOffset % 8 === 0 &&
    canvas.byteOffset % 8 === 0;
  const step = pairs ? 2 : 1;
  const dst = pairs ? new Float64Array(target.buffer, target.byteOffset, target.length >> 1) : target;
  const src = pairs ? new Float64Array(canvas.buffer, canvas.byteOffset, canvas.length >> 1) : canvas;
  const rowUnits = rowValues / step;
  const patchUnits = patchValues / step;
  for (let pr = 0; pr < perSide; pr++) {
    for (let dy = 0; dy < patchSize; dy++) {
      let p = ((y0 + pr * patchSize + dy) * canvasRowValues + x0 * 3) / step;
      let o = (offset + pr * perSide * patchValues + dy * rowValues) / step;
      // One canvas row of the crop feeds the same (dy) row of perSide consecutive patches.
      for (let pc = 0; pc < perSide; pc++, o += patchUnits) {
        for (let v = 0; v < rowUnits; v++) dst[o + v] = src[p++];
      }
    }
  }
}

/**
 * Writes, for each patch of the crop at (y0, x0), the fraction of its pixels that are real content (not
 * padding), in float32 as the reference's `mask.astype(float32).mean()` gives it, into `target` at `offset`.
 */
export function writePatchContentFractions(
  target: Float32Array,
  offset: number,
  box: Letterbox,
  y0: number,
  x0: number,
  geometry: CropGeometry,
): void {
  const { cropSize, patchSize } = geometry;
  const perSide = cropSize / patchSize;
  const area = patchSize * patchSize;
  for (let pr = 0; pr < perSide; pr++) {
    const rows = overlap(y0 + pr * patchSize, patchSize, box.top, box.contentHeight);
    for (let pc = 0; pc < perSide; pc++) {
      const cols = overlap(x0 + pc * patchSize, patchSize, box.left, box.contentWidth);
      // The content is a rectangle, so the count of real pixels is rows x cols; float32 division of two
      // exact integers equals numpy's float32 mean of the 0/1 mask.
      target[offset + pr * perSide + pc] = f32((rows * cols) / area);
    }
  }
}

function overlap(start: number, length: number, contentStart: number, contentLength: number): number {
  return Math.max(0, Math.min(start + length, contentStart + contentLength) - Math.max(start, contentStart));
}
