/**
 * Turns Molmo's raw answer (with `<point …>label</point>` / `<points …>label</points>` tags) into what the
 * answer box shows: plain text, each tag replaced by its label and the numbers of its points, so the reader
 * can match words to markers. While the answer streams, a tag that has not closed yet is hidden instead of
 * flashing its attributes.
 */

/** A piece of the shown answer: plain text, or a tag's label with the 1-based indices of its points. */
export type AnswerSegment =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "points"; readonly label: string; readonly indices: readonly number[] };

// One complete tag; the attributes are read for their x/xN coordinates only, to count the points.
const TAG = /<(points?)\b([^>]*)>([\s\S]*?)<\/\1>/g;
const X_ATTRIBUTE = /\bx\d*\s*=\s*"/g;
const ALT_ATTRIBUTE = /\balt\s*=\s*"([^"]*)"/;
// The streamed text ends in the first letters of `<point` (the rest of the tag name has not arrived).
const TAG_NAME_PREFIX = /<(p(o(i(nt?)?)?)?)?$/;

function decodeEntities(text: string): string {
  return text.replace(/&(quot|amp|lt|gt|apos|#39);/g, (_match, name: string) =>
    ({ quot: '"', amp: "&", lt: "<", gt: ">", apos: "'", "#39": "'" })[name] ?? _match,
  );
}

/**
 * Splits an answer into text and point segments. Point indices count the tags' points in order from 1,
 * as the server numbers `MolmoPoint.index`.
 *
 * @param streaming true while the answer is still arriving: an unfinished trailing tag is dropped.
 */
export function answerSegments(raw: string, streaming: boolean): AnswerSegment[] {
  const segments: AnswerSegment[] = [];
  let nextIndex = 1;
  let last = 0;
  const pushText = (text: string): void => {
    if (text !== "") segments.push({ kind: "text", text });
  };
  for (const match of raw.matchAll(TAG)) {
    pushText(raw.slice(last, match.index));
    const attributes = match[2] ?? "";
    const inner = (match[3] ?? "").trim();
    const alt = ALT_ATTRIBUTE.exec(attributes)?.[1] ?? "";
    const pointCount = [...attributes.matchAll(X_ATTRIBUTE)].length;
    const indices = Array.from({ length: pointCount }, (_unused, offset) => nextIndex + offset);
    nextIndex += pointCount;
    segments.push({ kind: "points", label: decodeEntities(inner === "" ? alt : inner), indices });
    last = match.index + match[0].length;
  }
  let rest = raw.slice(last);
  if (streaming) {
    // Everything from an opening `<point`/`<points` whose closing tag has not arrived is held back.
    const open = rest.search(/<points?\b/);
    if (open >= 0) rest = rest.slice(0, open);
    else rest = rest.replace(TAG_NAME_PREFIX, "");
  }
  pushText(rest);
  return segments;
}
