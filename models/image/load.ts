import sharp from "sharp";
import { ImageLoadError } from "./errors";
import { readImageSource, type ImageSource } from "./source";
import { gifFirstFrameTransparentColour } from "./gif-transparency";
import { LOADER_FOR_CONTAINER, sniffContainer } from "./sniff";
import type { RgbImage } from "./types";

export { ImageLoadError } from "./errors";
export type { ImageLoadErrorCode } from "./errors";
export type { ImageSource } from "./source";

/** Default pixel limit: generous for photos and screenshots, far below what would exhaust memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;
/** Default limit on the encoded size of an image. */
export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;
/** Default limit on decoding time; a pathological SVG or huge image is stopped instead of hanging. */
export const DEFAULT_TIMEOUT_SECONDS = 60;

/** Limits for {@link loadImage}. */
export interface LoadImageOptions {
  /** Largest accepted width * height, checked on the header before any pixel is decoded. Default 100 MP. */
  maxPixels?: number;
  /** Largest accepted encoded size in bytes. Default 256 MiB. */
  maxInputBytes?: number;
  /** Decoding time limit in whole seconds (0 = none). Default 60. */
  timeoutSeconds?: number;
}

/** A decoded image, upright, as 8-bit RGB, plus facts about the source for messages and metadata. */
export interface LoadedImage extends RgbImage {
  /** The container format that was decoded: png, jpeg, webp, gif, avif, tiff or svg. */
  readonly format: string;
  /** The path, or a placeholder such as `<bytes>`, used in messages. */
  readonly name: string;
  /** The EXIF orientation (1..8) that was applied; 1 when the image had none. */
  readonly orientationApplied: number;
  /**
   * Whether the source declares an alpha channel or (GIF) a transparent colour; the alpha is dropped, not
   * composited (see {@link loadImage}).
   */
  readonly hadAlpha: boolean;
}

/**
 * Decodes an image once into upright 8-bit RGB, matching the reference loader
 * (allenai/molmo `olmo/data/model_preprocessor.py::load_image`: PIL `image.convert("RGB")` then
 * `ImageOps.exif_transpose`):
 * - Alpha is DROPPED, not composited over a background: PIL's RGBA/LA/PA -> RGB conversion simply
 *   discards the alpha band, so fully transparent pixels keep whatever colour they store.
 * - Palette images map through the palette (a tRNS/transparency entry is ignored); greyscale is
 *   replicated into R, G and B. A GIF's transparent pixels take the palette colour at the transparent
 *   index, as PIL's palette lookup gives them.
 * - 16-bit samples keep their high byte, as PIL does for 16-bit RGB(A) and grey+alpha PNGs.
 *   DELIBERATE DIFFERENCE: PIL opens a 16-bit greyscale PNG as integer mode "I" and convert("RGB") then
 *   CLIPS each sample to 255, turning almost every such image white; we keep the high byte instead (the
 *   image stays legible; the reference's training data, web images, is 8-bit, so no parity is lost that
 *   the model could depend on).
 * - Embedded ICC profiles are ignored, as PIL's convert ignores them (no colour management).
 * - CMYK is converted with PIL's naive formula (R = (255 - C) * (255 - K) / 255), not through a profile.
 * - The EXIF orientation is applied: PIL's convert copies `info` (which holds the EXIF block), so the
 *   later exif_transpose still sees and applies it (all 8 orientations, JPEG/PNG/WebP/TIFF). Not
 *   reproduced: PIL also honours an orientation given only in XMP metadata; libvips reads EXIF only.
 * - Animated GIF/WebP and multi-page TIFF give their first frame/page, as PIL's open does.
 * - Unlike the reference (PIL with LOAD_TRUNCATED_IMAGES), truncated or damaged data is an error, not a
 *   partly grey image: see {@link decodeStrictly}.
 * All of this is checked byte for byte against PIL (Pillow 9.4) in tests/unit/image-load.test.ts.
 *
 * SVG (which PIL cannot open, so there is no reference behaviour to match) is rasterised at 72 DPI and its
 * transparent background composited onto white, as a browser shows it: dropping the alpha would leave
 * typical black-on-transparent drawings black on black. It is always handed to the decoder as bytes,
 * never as a path: librsvg then has no base location and refuses every non-`data:` reference (http(s),
 * file://, relative paths, XInclude, external XML entities), which are left out of the rendering. Given a
 * path it WOULD read files next to the SVG (checked with libvips 8.18 / librsvg 2.63; covered by tests).
 *
 * @throws ImageLoadError for every problem with the input (see its `code`).
 */
export async function loadImage(source: ImageSource, options: LoadImageOptions = {}): Promise<LoadedImage> {
  const maxPixels = positiveLimit(options.maxPixels, DEFAULT_MAX_PIXELS, "maxPixels");
  const maxInputBytes = positiveLimit(options.maxInputBytes, DEFAULT_MAX_INPUT_BYTES, "maxInputBytes");
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;

  // Always bytes, even for a path: see the SVG note above.
  const { bytes, name } = await readImageSource(source, maxInputBytes);

  const container = sniffContainer(bytes);
  if (container !== undefined && !canDecode(container)) {
    throw new ImageLoadError(
      "unsupported_format",
      name,
      `${container} images are not supported by this build's decoder; convert it to PNG or JPEG first.`,
    );
  }

  const input: DecoderInput = { bytes, name, container, maxPixels, options: decoderOptions(maxPixels) };
  let metadata: sharp.Metadata;
  try {
    // Only the header is read here; the pixel limit is checked below with a message giving the size.
    metadata = await sharp(bytes, { ...input.options, limitInputPixels: false }).metadata();
  } catch (error) {
    throw classifyDecoderError(error, input);
  }
  const format = checkHeader(metadata, input);
  const gifTransparentColour = metadata.format === "gif" ? gifFirstFrameTransparentColour(bytes) : undefined;
  const rgb = await decodeToRgb(input, metadata, format, gifTransparentColour, timeoutSeconds);
  return {
    width: rgb.width,
    height: rgb.height,
    data: rgb.data,
    format,
    name,
    orientationApplied: validOrientation(metadata.orientation),
    // libvips reports every GIF as having alpha; a GIF only has transparency if its first frame says so.
    hadAlpha: metadata.format === "gif" ? gifTransparentColour !== undefined : metadata.hasAlpha === true,
  };
}

/** What every decoding step needs to know about the input, for decoding and for error messages. */
interface DecoderInput {
  readonly bytes: Buffer;
  readonly name: string;
  /** The container named by the byte signature, when recognised. */
  readonly container: string | undefined;
  readonly maxPixels: number;
  readonly options: sharp.SharpOptions;
}

/**
 * Rejects what the header alone shows cannot be decoded (HEIC, no size, too many pixels) before any pixel
 * memory is allocated, and returns the format name used from then on.
 */
function checkHeader(metadata: sharp.Metadata, input: DecoderInput): string {
  const format = describeFormat(metadata);
  if (metadata.format === "heif" && metadata.compression !== "av1") {
    throw new ImageLoadError(
      "unsupported_format",
      input.name,
      `HEIF/${metadata.compression ?? "unknown"} images (e.g. HEIC) are not supported by this build's decoder; convert it to PNG or JPEG first.`,
    );
  }
  const { width, height } = metadata;
  if (!(width > 0 && height > 0)) {
    throw new ImageLoadError("corrupt", input.name, `the ${format} header declares no usable size (${width}x${height}).`);
  }
  if (width * height > input.maxPixels) {
    throw new ImageLoadError(
      "too_large",
      input.name,
      `the ${format} image is ${width}x${height} = ${width * height} pixels, more than the limit of ${input.maxPixels} pixels (decompression-bomb guard; raise maxPixels to allow it).`,
    );
  }
  return format;
}

/**
 * The one decode: upright (EXIF applied), 8 bits per sample, bands converted as described on
 * {@link loadImage}. No resize is requested, so libvips never uses JPEG/WebP shrink-on-load: the pixels
 * are the full-resolution ones the later resize expects.
 */
async function decodeToRgb(
  input: DecoderInput,
  metadata: sharp.Metadata,
  format: string,
  gifTransparentColour: [number, number, number] | undefined,
  timeoutSeconds: number,
): Promise<RgbImage> {
  const isCmyk = metadata.space === "cmyk";
  const pipelineFor = (failOn: sharp.FailOnOptions): sharp.Sharp => {
    let pipeline = sharp(input.bytes, { ...input.options, failOn }).autoOrient();
    if (isCmyk) {
      // Keep the decoded CMYK samples (no profile transform) so PIL's formula can be applied below.
      pipeline = pipeline.pipelineColourspace("cmyk").toColourspace("cmyk");
    } else if (gifTransparentColour !== undefined) {
      pipeline = pipeline.toColourspace("srgb").ensureAlpha(1);
    } else if (metadata.format === "svg") {
      pipeline = pipeline.flatten({ background: { r: 255, g: 255, b: 255 } }).toColourspace("srgb");
    } else {
      pipeline = pipeline.removeAlpha().toColourspace("srgb");
    }
    if (timeoutSeconds > 0) {
      // sharp wants whole seconds, at most an hour.
      pipeline = pipeline.timeout({ seconds: Math.min(3600, Math.ceil(timeoutSeconds)) });
    }
    return pipeline.raw({ depth: "uchar" });
  };

  const decoded = await decodeStrictly(pipelineFor, input, format);
  const { data, info } = decoded;
  const expectedChannels = isCmyk || gifTransparentColour !== undefined ? 4 : 3;
  if (info.channels !== expectedChannels || data.length !== info.width * info.height * info.channels) {
    throw new ImageLoadError(
      "unsupported_format",
      input.name,
      `the ${format} image decoded to ${info.channels} channels (${metadata.space ?? "unknown"} colour space), which cannot be converted to RGB.`,
    );
  }
  let rgb: Uint8Array;
  if (isCmyk) {
    rgb = cmykToRgbLikePil(data);
  } else if (gifTransparentColour !== undefined) {
    rgb = paintTransparentPixels(data, gifTransparentColour);
  } else {
    rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
  }
  return { width: info.width, height: info.height, data: rgb };
}

/**
 * Decoder messages that mean pixel data is missing or damaged. libjpeg reports some of these only as
 * warnings and then fills the rest of the image with grey: e.g. a file cut short that still ends in an
 * EOI marker, or a header whose declared size is larger than its data.
 */
const DAMAGE_MESSAGE = /premature end|bad huffman|instead of rst|truncat|unexpected end|read error|decoding error|invalid frame/i;

/**
 * Decodes with libvips's strictest setting (fail on any warning) so that damaged pixel data raises instead
 * of returning a partly grey image. The reference's PIL setup tolerates truncation; a clear error is more
 * useful than an answer about half a picture. Files that fail only for a benign warning (an incorrect
 * embedded sRGB profile, an unknown JFIF revision...) are decoded again with failOn "error", which still
 * rejects real decoding errors, so such common, perfectly viewable files keep loading.
 */
async function decodeStrictly(
  pipelineFor: (failOn: sharp.FailOnOptions) => sharp.Sharp,
  input: DecoderInput,
  format: string,
): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  let strictError: unknown;
  try {
    return await pipelineFor("warning").toBuffer({ resolveWithObject: true });
  } catch (error) {
    strictError = error;
  }
  if (DAMAGE_MESSAGE.test(messageOf(strictError))) {
    throw classifyDecoderError(strictError, input, format);
  }
  try {
    return await pipelineFor("error").toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw classifyDecoderError(error, input, format);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** RGBA -> RGB where fully transparent pixels take `colour` (GIF transparency is all-or-nothing). */
function paintTransparentPixels(rgba: Buffer, colour: readonly [number, number, number]): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    const transparent = rgba[i + 3] === 0;
    rgb[o] = transparent ? colour[0] : rgba[i];
    rgb[o + 1] = transparent ? colour[1] : rgba[i + 1];
    rgb[o + 2] = transparent ? colour[2] : rgba[i + 2];
  }
  return rgb;
}
/** Whether this build of sharp/libvips has a loader for the container (PDF, BMP... depend on the build). */
function canDecode(container: string): boolean {
  const loader = LOADER_FOR_CONTAINER[container];
  const formats = sharp.format as unknown as Record<string, { input?: { buffer?: boolean } } | undefined>;
  return loader !== undefined && formats[loader]?.input?.buffer === true;
}

function positiveLimit(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`loadImage: ${what} must be a positive number, got ${value}`);
  }
  return value;
}

/**
 * Decoder settings shared by the header read and the decode (which adds its own `failOn`, see
 * {@link decodeStrictly}; "error" here only governs the header read).
 * - limitInputPixels: libvips's own header check, a second line behind the explicit check on metadata.
 * - ignoreIcc: PIL's convert("RGB") does no colour management, so neither do we.
 * - pages/page: first frame of animations and first page of multi-page files.
 * - autoOrient stays off here and is requested explicitly on the pipeline.
 */
function decoderOptions(maxPixels: number): sharp.SharpOptions {
  return {
    failOn: "error",
    limitInputPixels: Math.max(1, Math.floor(maxPixels)),
    ignoreIcc: true,
    pages: 1,
    page: 0,
    sequentialRead: true,
  };
}

function describeFormat(metadata: sharp.Metadata): string {
  if (metadata.format === "heif") {
    return metadata.compression === "av1" ? "avif" : "heif";
  }
  return metadata.format;
}

function validOrientation(orientation: number | undefined): number {
  return orientation !== undefined && Number.isInteger(orientation) && orientation >= 1 && orientation <= 8
    ? orientation
    : 1;
}

/** PIL's CMYK -> RGB (libImaging Convert.c cmyk2rgb): R = 255 - C - K + C*K/255, rounded like MULDIV255. */
function cmykToRgbLikePil(cmyk: Buffer): Uint8Array {
  const pixels = cmyk.length / 4;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0, o = 0; i < cmyk.length; i += 4, o += 3) {
    const inverseK = 255 - cmyk[i + 3];
    rgb[o] = clip8(inverseK - muldiv255(cmyk[i], inverseK));
    rgb[o + 1] = clip8(inverseK - muldiv255(cmyk[i + 1], inverseK));
    rgb[o + 2] = clip8(inverseK - muldiv255(cmyk[i + 2], inverseK));
  }
  return rgb;
}

function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return (t + (t >> 8)) >> 8;
}

function clip8(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** Containers this build decodes; a decoder failure on one of them means damaged data. */
const DECODABLE_CONTAINERS: ReadonlySet<string> = new Set(["PNG", "JPEG", "GIF", "WebP", "TIFF", "AVIF", "SVG"]);

function classifyDecoderError(error: unknown, input: DecoderInput, format?: string): ImageLoadError {
  const { name, container, maxPixels } = input;
  const message = messageOf(error);
  const detail = message.split("\n")[0].trim();
  if (/unsupported image format/i.test(message) && container !== undefined && DECODABLE_CONTAINERS.has(container)) {
    // A recognised signature the decoder then rejects: typically a TIFF cut short before its directory.
    return new ImageLoadError("corrupt", name, `the ${container} data is damaged or truncated (${detail}).`, {
      cause: error,
    });
  }
  if (/unsupported image format/i.test(message)) {
    return new ImageLoadError(
      "unsupported_format",
      name,
      container === undefined
        ? "the data is not an image in any format this build can decode."
        : `the data looks like ${container} but the decoder could not read it (${detail}).`,
      { cause: error },
    );
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new ImageLoadError(
      "too_large",
      name,
      `the image has more pixels than the limit of ${maxPixels} pixels.`,
      { cause: error },
    );
  }
  if (/timeout/i.test(message)) {
    return new ImageLoadError("too_large", name, `decoding took longer than the time limit (${detail}).`, {
      cause: error,
    });
  }
  const what = format ?? container ?? "image";
  return new ImageLoadError("corrupt", name, `the ${what} data is damaged or truncated (${detail}).`, {
    cause: error,
  });
}
