/** Reading pixels back from a Playwright screenshot (PNG), to check what the user actually sees. */
import sharp from "sharp";

/** A decoded RGBA screenshot. */
export interface ScreenshotPixels {
  width: number;
  height: number;
  /** The [r, g, b] at whole pixel (x, y); x and y are rounded down and must lie inside the image. */
  rgbAt(x: number, y: number): [number, number, number];
}

/** Decodes a PNG screenshot taken at device scale factor 1 (page pixels = image pixels). */
export async function decodeScreenshot(png: Buffer): Promise<ScreenshotPixels> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    rgbAt(x, y) {
      const px = Math.floor(x);
      const py = Math.floor(y);
      if (px < 0 || py < 0 || px >= info.width || py >= info.height) {
        throw new RangeError(`pixel (${px}, ${py}) is outside the ${info.width}x${info.height} screenshot`);
      }
      const offset = (py * info.width + px) * 4;
      return [data[offset], data[offset + 1], data[offset + 2]];
    },
  };
}
