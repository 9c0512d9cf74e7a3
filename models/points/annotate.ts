import sharp from "sharp";
import { loadImage } from "../image/load";
import type { RgbImage } from "../image/types";
import { digitsPath, GLYPH_HEIGHT, GLYPH_STROKE } from "./digit-glyphs";
import { escapeXml } from "./entities";
import { PointsError } from "./types";

/** A point to draw, in pixels of the image. {@link ParsedPoint} fits this shape. */
export interface AnnotationPoint {
  readonly x: number;
  readonly y: number;
  /** The number drawn in the marker; defaults to the point's 1-based position in the list. */
  readonly index?: number;
  readonly label?: string;
}

/** How {@link annotatePng} draws. */
export interface AnnotateOptions {
  /**
   * Which points get a text label: `first` (default) labels the first point of each distinct label,
   * so twenty "car" points show "car" once; `all` labels every point; `none` draws markers only.
   */
  readonly labels?: "first" | "all" | "none";
  /** Marker radius in pixels; by default about 2.2 % of the shorter image side (8–64 px). */
  readonly markerRadius?: number;
}

/** The marker fill: a saturated pink that stands out on photos, screenshots and charts alike. */
export const MARKER_FILL = "#ff1f7a";
/** Inner ring and digits: white shows on dark images; the dark outer halo shows on light ones. */
export const MARKER_RING = "#ffffff";
export const MARKER_HALO = "#111111";

const LABEL_FONT = "DejaVu Sans, Verdana, Arial, sans-serif";
/** Approximate advance of a character in the label font, in ems (DejaVu Sans averages about 0.6). */
const LABEL_CHAR_EM = 0.6;
const LABEL_MAX_CHARS = 48;

/**
 * Draws numbered markers (and labels) at `points` on the image and returns a PNG of the same size.
 * Markers are a pink disc with a white ring and a dark halo, so they are visible on light and dark
 * images; their numbers are vector outlines (no font needed). Labels are SVG text in a dark box, kept
 * inside the image; they need a font known to fontconfig (Debian: fonts-dejavu-core) and are simply
 * absent without one. Points outside the image are clipped, not rejected.
 *
 * @param image decoded RGB pixels, or encoded bytes, which are decoded upright as
 *   {@link loadImage} does (so points parsed against that image line up).
 * @throws PointsError `invalid_image` for an RgbImage whose buffer does not match its size,
 *   `invalid_point` for a non-finite coordinate, `invalid_option` for a bad option;
 *   ImageLoadError (from loadImage) for bytes that cannot be decoded.
 */
export async function annotatePng(
  image: RgbImage | Uint8Array,
  points: readonly AnnotationPoint[],
  options: AnnotateOptions = {},
): Promise<Buffer> {
  // Check what is cheap to check before decoding anything.
  checkOptions(options);
  points.forEach(checkPoint);
  const rgb = image instanceof Uint8Array ? await loadImage(image) : checkRgbImage(image);
  const svg = annotationSvg(rgb.width, rgb.height, points, options);
  return sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
}

/** Marker radius that scales with the image: about 2.2 % of the shorter side, within 8–64 px. */
export function defaultRadius(width: number, height: number): number {
  return Math.min(64, Math.max(8, Math.round(Math.min(width, height) * 0.022)));
}

/**
 * The overlay {@link annotatePng} draws, as a standalone SVG document of `width` x `height` pixels with
 * a transparent background (a UI can lay it over the image itself). Label text is XML-escaped.
 *
 * @throws PointsError as {@link annotatePng} does for bad points or options.
 */
export function annotationSvg(width: number, height: number, points: readonly AnnotationPoint[], options: AnnotateOptions = {}): string {
  if (![width, height].every((v) => Number.isFinite(v) && v > 0)) {
    throw new PointsError("invalid_image", `overlay size must be positive, got ${width}x${height}`);
  }
  checkOptions(options);
  points.forEach(checkPoint);
  const labels = options.labels ?? "first";
  const radius = options.markerRadius ?? defaultRadius(width, height);
  const labelled = new Set<string>();
  const labelLayer: string[] = [];
  const markerLayer: string[] = [];
  points.forEach((point, i) => {
    const text = (point.label ?? "").trim();
    if (labels !== "none" && text !== "" && (labels === "all" || !labelled.has(text))) {
      labelled.add(text);
      labelLayer.push(labelSvg(point, text, radius, width, height));
    }
    markerLayer.push(markerSvg(point, point.index ?? i + 1, radius));
  });
  // Labels go under the markers so that no label hides another point.
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${labelLayer.join("")}${markerLayer.join("")}</svg>`;
}

function markerSvg(point: AnnotationPoint, number: number, r: number): string {
  // At least 2 px and 1.5 px, so that small markers keep a solid ring and halo after antialiasing.
  const ring = Math.max(2, r * 0.16);
  const halo = Math.max(1.5, r * 0.14);
  const { d, width } = digitsPath(number);
  // The digits fill about half the disc's height, shrinking for numbers with several digits.
  const scale = Math.min((r * 1.05) / GLYPH_HEIGHT, (r * 1.35) / width);
  const tx = point.x - (width * scale) / 2;
  const ty = point.y - (GLYPH_HEIGHT * scale) / 2;
  return (
    `<circle cx="${f(point.x)}" cy="${f(point.y)}" r="${f(r + ring / 2 + halo / 2)}" fill="none" stroke="${MARKER_HALO}" stroke-width="${f(halo)}"/>` +
    `<circle cx="${f(point.x)}" cy="${f(point.y)}" r="${f(r)}" fill="${MARKER_FILL}" stroke="${MARKER_RING}" stroke-width="${f(ring)}"/>` +
    `<path d="${d}" transform="translate(${f(tx)} ${f(ty)}) scale(${f(scale)})" fill="none" stroke="${MARKER_RING}" stroke-width="${GLYPH_STROKE}" stroke-linecap="round" stroke-linejoin="round"/>`
  );
}

/** Where a label goes: its box in image pixels, its font size, and the (possibly shortened) text. */
export interface LabelLayout {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly fontSize: number;
  readonly text: string;
}

/**
 * Lays out a label beside its marker: to the right, or to the left when it would cross the right
 * edge, then clamped inside the image; text too wide for the image is shortened with "…".
 * Returns undefined when not even one character fits.
 */
export function layoutLabel(point: AnnotationPoint, text: string, radius: number, imageWidth: number, imageHeight: number): LabelLayout | undefined {
  const fontSize = Math.max(11, Math.round(radius * 0.85));
  const pad = fontSize * 0.4;
  const height = fontSize * 1.5;
  const charWidth = fontSize * LABEL_CHAR_EM;
  const fitting = Math.min(LABEL_MAX_CHARS, Math.floor((imageWidth - 2 * pad) / charWidth));
  if (fitting < 1 || height > imageHeight) return undefined;
  const characters = [...text];
  const shown = characters.length > fitting ? `${characters.slice(0, Math.max(1, fitting - 1)).join("")}…` : text;
  const width = [...shown].length * charWidth + 2 * pad;
  const gap = radius * 1.35;
  let x = point.x + gap;
  if (x + width > imageWidth) x = point.x - gap - width;
  x = clamp(x, 0, imageWidth - width);
  const y = clamp(point.y - height / 2, 0, imageHeight - height);
  return { x, y, width, height, fontSize, text: shown };
}

function labelSvg(point: AnnotationPoint, text: string, radius: number, imageWidth: number, imageHeight: number): string {
  const box = layoutLabel(point, text, radius, imageWidth, imageHeight);
  if (box === undefined) return "";
  const pad = box.fontSize * 0.4;
  return (
    `<rect x="${f(box.x)}" y="${f(box.y)}" width="${f(box.width)}" height="${f(box.height)}" rx="${f(box.fontSize * 0.3)}" fill="${MARKER_HALO}" fill-opacity="0.8" stroke="${MARKER_RING}" stroke-opacity="0.85" stroke-width="1"/>` +
    `<text x="${f(box.x + pad)}" y="${f(box.y + box.height / 2 + box.fontSize * 0.36)}" font-family="${LABEL_FONT}" font-size="${box.fontSize}" fill="${MARKER_RING}">${escapeXml(box.text)}</text>`
  );
}

function checkOptions(options: AnnotateOptions): void {
  if (options.labels !== undefined && !["first", "all", "none"].includes(options.labels)) {
    throw new PointsError("invalid_option", `labels must be "first", "all" or "none", got ${JSON.stringify(options.labels)}`);
  }
  const radius = options.markerRadius;
  if (radius !== undefined && !(Number.isFinite(radius) && radius > 0)) {
    throw new PointsError("invalid_option", `markerRadius must be a positive number, got ${radius}`);
  }
}

function checkRgbImage(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const sized = Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0;
  if (!sized || !(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new PointsError("invalid_image", `expected ${width}x${height} RGB pixels (${width * height * 3} bytes), got ${data?.length ?? "no"} bytes`);
  }
  return image;
}

function checkPoint(point: AnnotationPoint, i: number): void {
  if (!Number.isFinite(point.x) || !Number.isFinite(point.y)) {
    throw new PointsError("invalid_point", `point ${i + 1} has a non-finite coordinate (${point.x}, ${point.y})`);
  }
  if (point.index !== undefined && !(Number.isInteger(point.index) && point.index >= 0)) {
    throw new PointsError("invalid_point", `point ${i + 1} has an index that is not a non-negative integer (${point.index})`);
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), Math.max(low, high));
}

function f(value: number): string {
  return String(Math.round(value * 100) / 100);
}
