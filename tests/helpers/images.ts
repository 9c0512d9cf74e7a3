/**
 * Synthesises small test images with sharp, with pixel content known exactly so tests can check values,
 * not just sizes. Generic on purpose: any test that needs an image of some kind can use these.
 */
import sharp from "sharp";

/** Raw interleaved pixels, `channels` bytes per pixel, row by row. */
export interface RawPixels {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
  readonly data: Uint8Array;
}

/**
 * An RGB gradient with no two neighbouring pixels alike: R follows x, G follows y, B mixes both, so a
 * flipped, rotated or shifted image is easy to tell from the original.
 */
export function gradientRgb(width: number, height: number): RawPixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((x * 255) / Math.max(1, width - 1));
      data[i + 1] = Math.round((y * 255) / Math.max(1, height - 1));
      data[i + 2] = (x * 7 + y * 13) & 0xff;
    }
  }
  return { width, height, channels: 3, data };
}

/** The gradient plus an alpha band that sweeps 0..255 across rows, so some pixels are fully transparent. */
export function gradientRgba(width: number, height: number): RawPixels {
  const rgb = gradientRgb(width, height).data;
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    data[p * 4] = rgb[p * 3];
    data[p * 4 + 1] = rgb[p * 3 + 1];
    data[p * 4 + 2] = rgb[p * 3 + 2];
    data[p * 4 + 3] = ((p % width) * 37) & 0xff;
  }
  return { width, height, channels: 4, data };
}

/** A greyscale ramp (1 channel), optionally with an alpha band (2 channels). */
export function greyRamp(width: number, height: number, withAlpha = false): RawPixels {
  const channels = withAlpha ? 2 : 1;
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    data[p * channels] = (p * 5) & 0xff;
    if (withAlpha) data[p * channels + 1] = (p * 11) & 0xff;
  }
  return { width, height, channels, data };
}

/**
 * Four solid quadrants (top-left red, top-right green, bottom-left blue, bottom-right white): after any
 * rotation or flip, which colour sits in which corner says exactly what was done.
 */
export const QUADRANT_COLOURS = {
  topLeft: [255, 0, 0],
  topRight: [0, 255, 0],
  bottomLeft: [0, 0, 255],
  bottomRight: [255, 255, 255],
} as const;

/** See {@link QUADRANT_COLOURS}. */
export function quadrantsRgb(width: number, height: number): RawPixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const top = y < height / 2;
      const left = x < width / 2;
      const colour = top
        ? left
          ? QUADRANT_COLOURS.topLeft
          : QUADRANT_COLOURS.topRight
        : left
          ? QUADRANT_COLOURS.bottomLeft
          : QUADRANT_COLOURS.bottomRight;
      data.set(colour, (y * width + x) * 3);
    }
  }
  return { width, height, channels: 3, data };
}

/** A sharp pipeline over raw pixels. */
export function fromRaw(pixels: RawPixels): sharp.Sharp {
  return sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels } });
}

/** 8-bit RGB PNG of {@link gradientRgb}. */
export function makeGradientPng(width: number, height: number): Promise<Buffer> {
  return fromRaw(gradientRgb(width, height)).png().toBuffer();
}

/** 8-bit RGBA PNG of {@link gradientRgba}; transparent pixels keep non-zero colour values. */
export function makeRgbaPng(width: number, height: number): Promise<Buffer> {
  return fromRaw(gradientRgba(width, height)).png().toBuffer();
}

/** 8-bit grey PNG of {@link greyRamp}, or grey+alpha (PNG colour type 4) when `withAlpha`. */
export function makeGreyPng(width: number, height: number, withAlpha = false): Promise<Buffer> {
  return fromRaw(greyRamp(width, height, withAlpha)).png().toBuffer();
}

/**
 * 16-bit PNG (RGB, or grey when `grey`): sample = v * 257 + (x % 256) style values so that the low byte
 * differs from the high byte and a loader that rounds differs visibly from one that truncates.
 */
export function makeSixteenBitPng(width: number, height: number, grey = false): Promise<Buffer> {
  const channels = grey ? 1 : 3;
  const samples = new Uint16Array(width * height * channels);
  for (let i = 0; i < samples.length; i++) {
    samples[i] = ((i * 1237) % 65536) | 0;
  }
  // A Uint16Array input tells sharp the raw samples are 16-bit.
  return sharp(samples, { raw: { width, height, channels } })
    .toColourspace(grey ? "grey16" : "rgb16")
    .png()
    .toBuffer();
}

/**
 * Palette PNG with `colours` distinct colours (at most 256), optionally with some fully and partly
 * transparent entries (a tRNS chunk). Every pixel is one of {@link paletteColours}, so the palette holds
 * them exactly.
 */
export function makePalettePng(width: number, height: number, transparent = false): Promise<Buffer> {
  const channels = transparent ? 4 : 3;
  const data = new Uint8Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const colour = PALETTE[(p % width >> 2) % PALETTE.length];
    data.set(colour.slice(0, channels), p * channels);
  }
  return sharp(data, { raw: { width, height, channels } })
    .png({ palette: true, colours: 16, dither: 0, effort: 10 })
    .toBuffer();
}

/** The RGBA colours {@link makePalettePng} paints with (the alpha only applies when `transparent`). */
export const PALETTE: readonly (readonly [number, number, number, number])[] = [
  [200, 30, 40, 255],
  [10, 120, 250, 0],
  [250, 250, 0, 128],
  [0, 0, 0, 255],
  [90, 200, 90, 255],
  [255, 255, 255, 64],
];

/** A JPEG of raw pixels at quality 100 with no chroma subsampling (closest JPEG gets to lossless). */
export function makeJpeg(pixels: RawPixels, orientation?: number): Promise<Buffer> {
  let pipeline = fromRaw(pixels);
  if (orientation !== undefined) pipeline = pipeline.withMetadata({ orientation });
  return pipeline.jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).toBuffer();
}

/**
 * A JPEG whose stored pixels are {@link quadrantsRgb}(width, height) with EXIF Orientation `orientation`
 * (1..8). A viewer that honours EXIF shows the quadrants rotated/flipped accordingly.
 */
export function makeExifRotatedJpeg(orientation: number, width = 64, height = 32): Promise<Buffer> {
  return makeJpeg(quadrantsRgb(width, height), orientation);
}

/** The same with a PNG container (EXIF in an eXIf chunk). */
export function makeExifRotatedPng(orientation: number, width = 64, height = 32): Promise<Buffer> {
  return fromRaw(quadrantsRgb(width, height)).withMetadata({ orientation }).png().toBuffer();
}

/** CMYK JPEG (4 channels, Adobe marker) of the gradient, as print workflows produce. */
export function makeCmykJpeg(width: number, height: number): Promise<Buffer> {
  return fromRaw(gradientRgb(width, height)).toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer();
}

/** Lossless WebP of raw pixels (RGB or RGBA). `exact` keeps colour under transparent pixels. */
export function makeLosslessWebp(pixels: RawPixels): Promise<Buffer> {
  return fromRaw(pixels).webp({ lossless: true, exact: true }).toBuffer();
}

/** Lossless AVIF of raw RGB pixels. */
export function makeLosslessAvif(pixels: RawPixels): Promise<Buffer> {
  return fromRaw(pixels).avif({ lossless: true }).toBuffer();
}

/** Deflate-compressed TIFF of raw pixels. */
export function makeTiff(pixels: RawPixels): Promise<Buffer> {
  return fromRaw(pixels).tiff({ compression: "deflate" }).toBuffer();
}

/**
 * Animated GIF / multi-page TIFF: `frames` solid colours, each frame `width` x `height`. Loaders should
 * return the first frame only.
 */
export function makeMultiFrame(
  format: "gif" | "tiff" | "webp",
  width: number,
  height: number,
  frames: readonly (readonly [number, number, number])[],
): Promise<Buffer> {
  const data = new Uint8Array(width * height * frames.length * 3);
  frames.forEach((colour, f) => {
    for (let p = 0; p < width * height; p++) data.set(colour, (f * width * height + p) * 3);
  });
  const pipeline = sharp(data, { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } });
  if (format === "gif") return pipeline.gif({ loop: 0, delay: frames.map(() => 100) }).toBuffer();
  if (format === "webp") return pipeline.webp({ lossless: true, loop: 0 }).toBuffer();
  return pipeline.tiff({ compression: "deflate" }).toBuffer();
}

/** GIF of raw RGB pixels having at most 256 distinct colours (then the palette holds them exactly). */
export function makeGif(pixels: RawPixels): Promise<Buffer> {
  return fromRaw(pixels).gif({ colours: 256, dither: 0, effort: 10 }).toBuffer();
}

/**
 * A valid PNG signature and IHDR declaring `width` x `height` 8-bit RGB, followed by a tiny IDAT and IEND:
 * the shape of a decompression bomb (huge declared size, almost no data). CRCs are correct so only the
 * size is "wrong".
 */
export function makePngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  ihdr[10] = 0; // compression
  ihdr[11] = 0; // filter
  ihdr[12] = 0; // interlace
  // An empty zlib stream (stored block of length 0): decoding it fails soon, if ever attempted.
  const idat = Buffer.from([0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", idat),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/** One PNG chunk: length, type, data, CRC-32 of type + data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const typeBytes = Buffer.from(type, "latin1");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([typeBytes, data])), 0);
  return Buffer.concat([length, typeBytes, data, crc]);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 as PNG uses it (zlib.crc32 only exists from Node 20.15). */
export function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The RGB value at (x, y) of an image with `channels` bytes per pixel. */
export function pixelAt(
  image: { width: number; data: Uint8Array },
  x: number,
  y: number,
  channels = 3,
): number[] {
  const i = (y * image.width + x) * channels;
  return Array.from(image.data.subarray(i, i + 3));
}

/** Largest absolute per-byte difference between two equally long arrays. */
export function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Drops the alpha band of RGBA (or grey+alpha) pixels and expands grey to RGB. */
export function toRgbDroppingAlpha(pixels: RawPixels): Uint8Array {
  const count = pixels.width * pixels.height;
  const out = new Uint8Array(count * 3);
  for (let p = 0; p < count; p++) {
    const i = p * pixels.channels;
    if (pixels.channels <= 2) {
      out.fill(pixels.data[i], p * 3, p * 3 + 3);
    } else {
      out[p * 3] = pixels.data[i];
      out[p * 3 + 1] = pixels.data[i + 1];
      out[p * 3 + 2] = pixels.data[i + 2];
    }
  }
  return out;
}

/** A minimal 24-bit uncompressed BMP (BITMAPINFOHEADER, bottom-up rows padded to 4 bytes) of RGB pixels. */
export function makeBmp(pixels: RawPixels): Buffer {
  if (pixels.channels !== 3) throw new Error("makeBmp: RGB pixels only");
  const rowBytes = Math.ceil((pixels.width * 3) / 4) * 4;
  const imageBytes = rowBytes * pixels.height;
  const out = Buffer.alloc(54 + imageBytes);
  out.write("BM", 0, "latin1");
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(pixels.width, 18);
  out.writeInt32LE(pixels.height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(imageBytes, 34);
  for (let y = 0; y < pixels.height; y++) {
    const row = 54 + (pixels.height - 1 - y) * rowBytes;
    for (let x = 0; x < pixels.width; x++) {
      const i = (y * pixels.width + x) * 3;
      out[row + x * 3] = pixels.data[i + 2];
      out[row + x * 3 + 1] = pixels.data[i + 1];
      out[row + x * 3 + 2] = pixels.data[i];
    }
  }
  return out;
}

/**
 * A copy of a baseline/progressive JPEG whose frame header (SOF0..SOF2) declares `width` x `height`
 * instead of the real size: a JPEG-shaped decompression bomb.
 */
export function withJpegFrameSize(jpeg: Uint8Array, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  let offset = 2;
  while (offset + 4 <= out.length && out[offset] === 0xff) {
    const marker = out[offset + 1];
    const length = out.readUInt16BE(offset + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      out.writeUInt16BE(height, offset + 5);
      out.writeUInt16BE(width, offset + 7);
      return out;
    }
    offset += 2 + length;
  }
  throw new Error("withJpegFrameSize: no SOF0..SOF2 marker found");
}

/**
 * A copy of a JPEG with a JFIF APP0 segment of the given version inserted after SOI. Versions other than
 * 1.x make libjpeg emit a harmless "unknown JFIF revision" warning: a decodable file that a decoder set
 * to fail on any warning would reject.
 */
export function withJfifVersion(jpeg: Uint8Array, major: number, minor: number): Buffer {
  const app0 = Buffer.from([
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, major, minor, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
  ]);
  return Buffer.concat([jpeg.subarray(0, 2), app0, jpeg.subarray(2)]);
}
