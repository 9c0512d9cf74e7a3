/** Width and height in pixels of the ORIGINAL image the model was shown (after EXIF orientation). */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/**
 * Which form a point came from:
 * - `point`: Molmo v1 single point, `<point x="61.5" y="40.4" alt="dog">dog</point>`.
 * - `points`: Molmo v1 several points, `<points x1=".." y1=".." x2=".." y2=".." alt="..">..</points>`
 *   (also the legacy `p=123,456` / `1=123,456` attribute forms, which are per-mille).
 * - `molmo2`: Molmo2 `<points coords="1 1 460 588 2 504 740">label</points>` (0–1000 integers).
 * - `action`: Android-control style `Click(45.2, 67.1)` / `Long Press(45.2, 67.1)`.
 * - `tuple`: an answer made only of `(x, y)` pairs, one per line.
 */
export type PointTagKind = "point" | "points" | "molmo2" | "action" | "tuple";

/** One point in an answer. */
export interface ParsedPoint {
  /** 1-based position among all points of the answer, in text order (what a marker shows). */
  readonly index: number;
  /** 1-based position within its tag. */
  readonly indexInTag: number;
  /** Index into {@link ParsedPoints.tags} of the tag the point came from. */
  readonly tagIndex: number;
  /** Pixels of the original image: `xPercent / 100 * width`, not rounded. */
  readonly x: number;
  readonly y: number;
  /** The value as written, converted to percent (0–100) of the original width / height. */
  readonly xPercent: number;
  readonly yPercent: number;
  /** The tag's `alt` attribute (entities decoded), when it has one. */
  readonly alt?: string;
  /**
   * The tag's inner text (entities decoded, trimmed). Its `alt` instead when the inner text is empty or
   * the tag is self-closing or unclosed (the text after an unclosed tag may be prose or cut short);
   * the verb ("Click") for actions; empty for an answer of `(x, y)` pairs.
   */
  readonly label: string;
  /** Molmo2 only: the image index (or video timestamp) that leads the point's coordinate group. */
  readonly imageIndex?: number;
}

/** One point-bearing construct found in the text, with its place in the text. */
export interface PointTag {
  readonly kind: PointTagKind;
  readonly alt?: string;
  readonly label: string;
  /** Offset (UTF-16 code units) of the construct's first character. */
  readonly start: number;
  /** Offset just past the construct (past the close tag when there is one). */
  readonly end: number;
  /** How many points the tag contributed (0 when all of its coordinates were rejected). */
  readonly pointCount: number;
}

/**
 * Why part of the text was not (fully) turned into points:
 * - `truncated`: the text ends inside a tag (a cut-off stream); the tag is skipped.
 * - `malformed`: the tag cannot be read (bad attribute syntax, unreadable number, no coordinates,
 *   a `<` inside the tag, an over-long tag); it is skipped from that character on.
 * - `out_of_range`: a coordinate outside 0–100 (0–1000 for Molmo2); that point is skipped, as the
 *   reference (`olmo/util.py::extract_points`) skips values above 100.
 * - `unpaired`: an x without its y (or the reverse); that point is skipped.
 * - `duplicate`: an attribute given twice; the first one is used.
 * - `unclosed`: the tag has no close tag; its points ARE kept and its label is its `alt`.
 * - `self_closing`: `<point ... />`; its points ARE kept and its label is its `alt`.
 * - `count_mismatch`: the stated count differs from the number of points; both are reported.
 */
export type PointIssueReason =
  | "truncated"
  | "malformed"
  | "out_of_range"
  | "unpaired"
  | "duplicate"
  | "unclosed"
  | "self_closing"
  | "count_mismatch";

/** Something in the text the parser skipped or found suspicious. Issues never throw. */
export interface PointIssue {
  /** Offset (UTF-16 code units) in the text where the problem was noticed. */
  readonly offset: number;
  /** At most 80 characters of the text around `offset`. */
  readonly snippet: string;
  readonly reason: PointIssueReason;
  /** A short sentence saying what exactly was wrong. */
  readonly detail: string;
}

/** Everything {@link parsePoints} found in one answer. */
export interface ParsedPoints {
  readonly points: ParsedPoint[];
  readonly tags: PointTag[];
  readonly issues: PointIssue[];
  /** The number the answer states ("… shows a total of 3.", "There are 3 …", "3", "There are none." → 0). */
  readonly statedCount?: number;
  /**
   * The answer's count: `statedCount` when the text states one; otherwise 0 when `noneFound`; otherwise
   * the number of points when the answer is count-style (mentions counting / a total); else absent.
   */
  readonly count?: number;
  /** No points, and the answer says there is nothing to point at ("There are none.", "This isn't in the image."). */
  readonly noneFound: boolean;
}

/** Codes of {@link PointsError}: the caller passed something unusable (never raised for bad model text). */
export type PointsErrorCode =
  | "invalid_text"
  | "invalid_image_size"
  | "invalid_image"
  | "invalid_point"
  | "invalid_option"
  | "stream_ended";

/**
 * A caller error in the points API: text that is not a string, an unusable image size, an image whose
 * buffer does not match its size, a non-finite point, a bad option, or `push` after `end`.
 */
export class PointsError extends Error {
  override readonly name = "PointsError";

  constructor(
    readonly code: PointsErrorCode,
    message: string,
  ) {
    super(message);
  }
}
