import sharp from "sharp";
import type { RgbImage } from "../image/types";
import type { ResizeBackend } from "./config";
import { PreprocessError } from "./errors";
import { Normaliser } from "./normalise";
import { resampleTriangle, triangleAxisFilter, type OutputRegion } from "./resample";

/**
 * Output rows/columns at each border recomputed exactly after sharp's resize. The reference clips the
 * filter window at the image border and renormalises; libvips extends the border instead, so the two
 * disagree on the outermost output pixels (by up to 0.29 normalised units, measured). Only the first and
 * last output index have a clipped window when shrinking (the window of index 1 starts at 0.5 * scale
 * >= 0), but libvips' window is a little wider than the triangle's support, so two are redone for margin.
 */
const EXACT_BORDER = 2;

/** Leaves values in [0, 1]: (v - 0) / 1 is exact in float32. */
const UNIT = new Normaliser([0, 0, 0], [1, 1, 1], 0);

/** Pixels of a block of the resized image, float32 RGB in [0, 1], row-major HWC. */
export interface FloatRegion {
  readonly region: OutputRegion;
  readonly pixels: Float32Array;
}

/**
 * A resized image, in the cheapest form its backend produces, so that normalising it can be fused with
 * writing the crops (see patchify.ts) instead of going through a float canvas.
 *
 * - `bytes`: 8-bit RGB (HWC) for the whole image, whose value v stands for float32(v / 255) exactly as
 *   the reference's `convert_image_dtype` reads it, except inside the `exact` regions, whose float
 *   values replace the bytes there (sharp's border pixels, recomputed the reference's way).
 * - `floats`: every pixel in [0, 1], computed in float.
 */
export type ResizedImage =
  | { readonly kind: "bytes"; readonly width: number; readonly height: number; readonly bytes: Uint8Array; readonly exact: readonly FloatRegion[] }
  | { readonly kind: "floats"; readonly width: number; readonly height: number; readonly pixels: Float32Array };

/**
 * Resizes `image` to `height x width` the way the reference does (bilinear with antialias on float
 * values in [0, 1], then clipped) and returns float32 RGB in [0, 1], row-major HWC.
 * See {@link resizeImage} for the backends.
 */
export async function resizeToUnitFloat(image: RgbImage, height: number, width: number, backend: ResizeBackend): Promise<Float32Array> {
  const resized = await resizeImage(image, height, width, backend);
  if (resized.kind === "floats") return resized.pixels;
  const data = new Float32Array(height * width * 3);
  UNIT.bytesInto(resized.bytes, width, height, { data, offset: 0, rowValues: width * 3 });
  for (const { region, pixels } of resized.exact) {
    const regionWidth = region.x1 - region.x0;
    for (let y = region.y0; y < region.y1; y++) {
      const from = (y - region.y0) * regionWidth * 3;
      data.set(pixels.subarray(from, from + regionWidth * 3), (y * width + region.x0) * 3);
    }
  }
  return data;
}

/**
 * Resizes `image` to `height x width` the way the reference does (bilinear with antialias on float
 * values in [0, 1], then clipped).
 *
 * - An unchanged size returns the pixels as they are (the reference's resize is the identity there).
 * - `exact`: the TypeScript port of the reference's arithmetic ({@link resampleTriangle}).
 * - `sharp`: when both axes shrink, libvips' linear reduction on the 8-bit buffer (sharp resize,
 *   kernel `linear`), with the border rows/columns recomputed exactly. An axis that grows is done exactly
 *   instead: libvips samples enlargements half a source pixel away from the reference (measured: mean
 *   error 0.03 to 0.11 normalised units), and enlargements are small images, so exact is cheap there.
 *   `fastShrinkOnLoad` does not apply: the input is a raw buffer, not a JPEG/WebP file.
 *
 * @throws PreprocessError (`resize_failed`) when sharp fails.
 */
export async function resizeImage(image: RgbImage, height: number, width: number, backend: ResizeBackend): Promise<ResizedImage> {
  if (height === image.height && width === image.width) {
    return { kind: "bytes", width, height, bytes: image.data, exact: [] };
  }
  if (backend === "exact" || height > image.height || width > image.width) {
    return { kind: "floats", width, height, pixels: resampleTriangle(image, height, width) };
  }
  // libvips resizes on its own thread; the border is computed here meanwhile.
  const shrinking = sharpShrink(image, height, width);
  let exact: FloatRegion[];
  try {
    exact = exactBorder(image, height, width);
  } catch (error) {
    shrinking.catch(() => undefined); // the border's error is the one reported
    throw error;
  }
  return { kind: "bytes", width, height, bytes: await shrinking, exact };
}

async function sharpShrink(image: RgbImage, height: number, width: number): Promise<Buffer> {
  let resized: Buffer;
  try {
    resized = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { kernel: "linear", fit: "fill" })
      .raw()
      .toBuffer();
  } catch (error) {
    throw new PreprocessError("resize_failed", `sharp could not resize the image to ${width}x${height}: ${String(error)}`, {
      cause: error,
    });
  }
  if (resized.length !== height * width * 3) {
    throw new PreprocessError("resize_failed", `sharp returned ${resized.length} bytes for a ${width}x${height} RGB image.`);
  }
  return resized;
}

/** The reference's values for the outer EXACT_BORDER rows and columns. */
function exactBorder(image: RgbImage, height: number, width: number): FloatRegion[] {
  const filters = {
    vertical: triangleAxisFilter(image.height, height),
    horizontal: triangleAxisFilter(image.width, width),
  };
  const band = Math.min(EXACT_BORDER, height, width);
  const inner = Math.max(band, height - band);
  const regions: OutputRegion[] = [
    { y0: 0, y1: band, x0: 0, x1: width },
    { y0: inner, y1: height, x0: 0, x1: width },
    { y0: band, y1: inner, x0: 0, x1: band },
    { y0: band, y1: inner, x0: Math.max(band, width - band), x1: width },
  ];
  return regions
    .filter((region) => region.y1 > region.y0 && region.x1 > region.x0)
    .map((region) => ({ region, pixels: resampleTriangle(image, height, width, region, filters) }));
}
