import { PointCollector } from "./collector";
import { TagScanner } from "./scanner";
import type { ImageSize, ParsedPoints } from "./types";
import { PointsError } from "./types";

export type { ImageSize, ParsedPoint, ParsedPoints, PointIssue, PointIssueReason, PointTag, PointTagKind } from "./types";
export { PointsError } from "./types";

/**
 * Finds every point in a Molmo answer and converts it to pixels of the original image.
 *
 * Accepted forms (see {@link PointTagKind}):
 * - Molmo v1 `<point x="61.5" y="40.4" alt="dog">dog</point>` and
 *   `<points x1="…" y1="…" x2="…" y2="…" alt="…">…</points>`: percent of width/height (0–100), in any
 *   attribute order, with double, single or no quotes, any white space, upper or lower case;
 *   a missing `alt`, a self-closing tag or a missing close tag is accepted (the last two are reported);
 * - the legacy per-mille attributes `p=123,456` and `1=123,456 2=…` (reference `extract_points`);
 * - Molmo2 `<points coords="1 1 460 588 2 504 740">label</points>` (0–1000, groups split by ';' or tab);
 * - `Click(x, y)` / `Long Press(x, y)` anywhere (Android-control answers, percent);
 * - an answer made ONLY of `(x, y)` pairs (percent). A bare pair inside prose is not read as a point.
 *
 * Values outside 0–100 (0–1000 for Molmo2) are rejected, as the reference rejects values above 100.
 * Entities in alt and label are decoded. Anything malformed or truncated is skipped and reported in
 * `issues`; model text never makes this throw, and it runs in linear time on any input.
 *
 * @param text the generated answer (special tokens already removed).
 * @param imageSize the ORIGINAL image's size in pixels (after EXIF orientation, before any resizing).
 * @throws PointsError `invalid_text` if `text` is not a string, `invalid_image_size` for a bad size.
 */
export function parsePoints(text: string, imageSize: ImageSize): ParsedPoints {
  if (typeof text !== "string") {
    throw new PointsError("invalid_text", `parsePoints expects a string, got ${typeof text}`);
  }
  const collector = new PointCollector(imageSize);
  const scanner = new TagScanner();
  collector.add(scanner.feed(text));
  collector.add(scanner.finish());
  if (!collector.sawConstructs) collector.addTupleAnswer(text);
  return collector.result(text);
}
