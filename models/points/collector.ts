import { decodeAction, decodeTag, percentPair, type CoordinateIssue, type DecodedTag } from "./coordinates";
import { readCount } from "./count";
import type { ScanItem } from "./scanner";
import type { ImageSize, ParsedPoint, ParsedPoints, PointIssue, PointIssueReason, PointTag } from "./types";
import { PointsError } from "./types";

const SNIPPET_BEFORE = 20;
const SNIPPET_LENGTH = 80;

/**
 * Turns scanner items into numbered points, tags and issues, and finally into {@link ParsedPoints}.
 * The batch parser and the stream parser both go through it, so both number and convert points alike.
 */
export class PointCollector {
  private readonly points: ParsedPoint[] = [];
  private readonly tags: PointTag[] = [];
  private readonly spans: Array<{ start: number; end: number; keepFrom: number; keepTo: number }> = [];
  // Issues keep only their offset until the end, when the whole text is known for snippets.
  private readonly pendingIssues: CoordinateIssue[] = [];

  constructor(private readonly size: ImageSize) {
    checkImageSize(size);
  }

  /** Adds scanner items; returns the points they completed. */
  add(items: readonly ScanItem[]): ParsedPoint[] {
    const added: ParsedPoint[] = [];
    for (const item of items) {
      if (item.type === "issue") {
        this.pendingIssues.push(item);
        continue;
      }
      const decoded = item.type === "tag" ? decodeTag(item) : decodeAction(item);
      this.pendingIssues.push(...decoded.issues);
      if (item.type === "tag" && item.closing !== "closed") {
        const detail = item.closing === "self_closing" ? "the tag is self-closing; its label is its alt" : "the tag has no close tag; its label is its alt";
        this.pendingIssues.push({ reason: item.closing, offset: item.start, detail });
      }
      const keep = item.type === "tag" && item.closing === "closed" ? { keepFrom: item.openEnd, keepTo: item.closeStart } : { keepFrom: item.start, keepTo: item.start };
      this.spans.push({ start: item.start, end: item.end, ...keep });
      added.push(...this.addTag(decoded, item.start, item.end));
    }
    return added;
  }

  /**
   * Adds the points of an answer made only of `(x, y)` pairs (percent, as the reference's
   * `extract_points` reads them). Only called when the scanner found nothing else.
   */
  addTupleAnswer(text: string): ParsedPoint[] {
    const pairs = tuplePairs(text);
    if (pairs === undefined) return [];
    const issues: CoordinateIssue[] = [];
    const coordinates = pairs.flatMap((pair) => percentPair(pair.x, pair.y, 100, pair.start, issues) ?? []);
    this.pendingIssues.push(...issues);
    const start = pairs[0].start;
    const end = pairs[pairs.length - 1].end;
    this.spans.push({ start, end, keepFrom: start, keepTo: start });
    return this.addTag({ kind: "tuple", label: "", coordinates, issues }, start, end);
  }

  /** Whether any point tag, action or tuple has been seen. */
  get sawConstructs(): boolean {
    return this.tags.length > 0;
  }

  /** The final result for the whole `text` (the same text the items were scanned from). */
  result(text: string): ParsedPoints {
    const masked = maskSpans(text, this.spans);
    const reading = readCount(masked);
    const issues = this.pendingIssues.map((issue) => toIssue(text, issue.offset, issue.reason, issue.detail));
    const pointCount = this.points.length;
    const statedCount = reading.stated?.value;
    if (reading.stated !== undefined && pointCount > 0 && reading.stated.value !== pointCount) {
      issues.push(toIssue(text, reading.stated.offset, "count_mismatch", `the answer states ${reading.stated.value} but has ${pointCount} points`));
    }
    issues.sort((a, b) => a.offset - b.offset);
    const noneFound = pointCount === 0 && (statedCount === 0 || reading.saysAbsent);
    const count = statedCount ?? (noneFound ? 0 : reading.countStyle && pointCount > 0 ? pointCount : undefined);
    return {
      points: [...this.points],
      tags: [...this.tags],
      issues,
      ...(statedCount === undefined ? {} : { statedCount }),
      ...(count === undefined ? {} : { count }),
      noneFound,
    };
  }

  private addTag(decoded: DecodedTag, start: number, end: number): ParsedPoint[] {
    const tagIndex = this.tags.length;
    // Optional fields are left out rather than set to undefined, so results compare and print cleanly.
    const alt = decoded.alt === undefined ? {} : { alt: decoded.alt };
    this.tags.push({ kind: decoded.kind, ...alt, label: decoded.label, start, end, pointCount: decoded.coordinates.length });
    const added = decoded.coordinates.map((coordinate, i): ParsedPoint => ({
      index: this.points.length + i + 1,
      indexInTag: i + 1,
      tagIndex,
      // Same order of operations as the reference: value / 100 * size.
      x: (coordinate.xPercent / 100) * this.size.width,
      y: (coordinate.yPercent / 100) * this.size.height,
      xPercent: coordinate.xPercent,
      yPercent: coordinate.yPercent,
      ...alt,
      label: decoded.label,
      ...(coordinate.imageIndex === undefined ? {} : { imageIndex: coordinate.imageIndex }),
    }));
    this.points.push(...added);
    return added;
  }
}

/** @throws PointsError `invalid_image_size` unless width and height are positive finite numbers. */
export function checkImageSize(size: ImageSize): void {
  const valid = typeof size === "object" && size !== null && [size.width, size.height].every((v) => typeof v === "number" && Number.isFinite(v) && v > 0);
  if (!valid) {
    throw new PointsError("invalid_image_size", `image size must have positive finite width and height, got ${JSON.stringify(size)}`);
  }
}

function toIssue(text: string, offset: number, reason: PointIssueReason, detail: string): PointIssue {
  const from = Math.max(0, offset - SNIPPET_BEFORE);
  return { offset, snippet: text.slice(from, from + SNIPPET_LENGTH), reason, detail };
}

/** Blanks out each construct except the label of closed tags, keeping the text's length. */
function maskSpans(text: string, spans: ReadonlyArray<{ start: number; end: number; keepFrom: number; keepTo: number }>): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let at = 0;
  for (const span of spans) {
    parts.push(text.slice(at, span.start), " ".repeat(span.keepFrom - span.start), text.slice(span.keepFrom, span.keepTo), " ".repeat(span.end - span.keepTo));
    at = span.end;
  }
  parts.push(text.slice(at));
  return parts.join("");
}

const TUPLE = /\(\s{0,8}(-?\d{1,6}(?:\.\d{1,6})?)\s{0,8},\s{0,8}(-?\d{1,6}(?:\.\d{1,6})?)\s{0,8}\)/y;
const SPACE = /\s*/y;

/**
 * The pairs of an answer that is nothing but `(x, y)` pairs separated by white space (the reference's
 * `is_valid_format` first form). A pair inside prose is NOT a point: "(1.5, 2.5)" in an explanation is
 * too often not a location, so only answers made of pairs alone are read this way.
 */
function tuplePairs(text: string): Array<{ x: string; y: string; start: number; end: number }> | undefined {
  const pairs: Array<{ x: string; y: string; start: number; end: number }> = [];
  let at = skipSpace(text, 0);
  while (at < text.length) {
    TUPLE.lastIndex = at;
    const match = TUPLE.exec(text);
    if (match === null) return undefined;
    pairs.push({ x: match[1], y: match[2], start: at, end: at + match[0].length });
    at = skipSpace(text, at + match[0].length);
  }
  return pairs.length > 0 ? pairs : undefined;
}

function skipSpace(text: string, at: number): number {
  SPACE.lastIndex = at;
  return SPACE.exec(text) === null ? at : SPACE.lastIndex;
}
