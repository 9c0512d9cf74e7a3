import { PointCollector } from "./collector";
import { TagScanner } from "./scanner";
import type { ImageSize, ParsedPoint, ParsedPoints } from "./types";
import { PointsError } from "./types";

/** What {@link PointStreamParser.end} returns. */
export interface PointStreamEnd {
  /** Points completed by the end of the text (an unclosed last tag, or an answer of `(x, y)` pairs). */
  readonly points: ParsedPoint[];
  /** The full result, identical to `parsePoints(wholeText, imageSize)`; truncated tags are in `issues`. */
  readonly result: ParsedPoints;
}

/**
 * Parses points while an answer is being generated, so a UI can draw each point as soon as its tag is
 * complete. A tag's points are released when its close tag (or the next point tag) arrives, because
 * the label follows the coordinates. The points released over the whole stream, in order, equal the
 * batch parser's points for the whole text, however the text was split.
 */
export class PointStreamParser {
  private readonly scanner = new TagScanner();
  private readonly collector: PointCollector;
  private readonly chunks: string[] = [];
  private ended = false;

  /** @throws PointsError `invalid_image_size` for a bad size. */
  constructor(imageSize: ImageSize) {
    this.collector = new PointCollector(imageSize);
  }

  /**
   * Adds newly generated text; returns the points it completed (often none).
   * @throws PointsError `stream_ended` after {@link end}, `invalid_text` if `textDelta` is not a string.
   */
  push(textDelta: string): ParsedPoint[] {
    if (this.ended) throw new PointsError("stream_ended", "push() was called after end()");
    if (typeof textDelta !== "string") throw new PointsError("invalid_text", `push expects a string, got ${typeof textDelta}`);
    if (textDelta === "") return [];
    this.chunks.push(textDelta);
    return this.collector.add(this.scanner.feed(textDelta));
  }

  /**
   * Ends the stream: returns the last points and the full result. A tag cut off by the end of the
   * text is reported in `result.issues` as `truncated`. Calling it again returns the same result.
   */
  end(): PointStreamEnd {
    if (this.ended) return { points: [], result: this.final! };
    this.ended = true;
    const text = this.chunks.join("");
    const points = this.collector.add(this.scanner.finish());
    if (!this.collector.sawConstructs) points.push(...this.collector.addTupleAnswer(text));
    this.final = this.collector.result(text);
    return { points, result: this.final };
  }

  private final: ParsedPoints | undefined;
}

/** Starts parsing a streamed answer about an image of `imageSize` (original pixels). */
export function createPointStream(imageSize: ImageSize): PointStreamParser {
  return new PointStreamParser(imageSize);
}
