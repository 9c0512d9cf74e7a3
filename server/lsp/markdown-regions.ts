/**
 * The parts of a document where an image syntax is not an image: Markdown fenced code blocks and inline
 * code spans, HTML comments, and the bodies of `<script>` and `<style>` elements (in both formats, since
 * Markdown allows raw HTML). The image finder skips any match that starts inside one of these.
 */
import type { ImageDocumentFormat, TextSpan } from "./image-references";

/** A region to skip, `end` exclusive. */
export type ExcludedRegion = TextSpan;

/** The excluded regions of a document, sorted and not overlapping. */
export function findExcludedRegions(text: string, format: ImageDocumentFormat): ExcludedRegion[] {
  const fences = format === "markdown" ? findFencedBlocks(text) : [];
  const regions: ExcludedRegion[] = [];
  let fenceIndex = 0;
  let i = 0;
  while (i < text.length) {
    const fence = fences[fenceIndex];
    if (fence !== undefined && i >= fence.start) {
      regions.push(fence);
      i = fence.end;
      fenceIndex += 1;
      continue;
    }
    const limit = fence?.start ?? text.length;
    const region = regionStartingAt(text, i, limit, format);
    if (region !== undefined) {
      regions.push(region);
      i = Math.max(region.end, i + 1);
    } else {
      i += 1;
    }
  }
  return regions;
}

/** Whether `offset` lies inside one of `regions` (sorted). */
export function isExcluded(regions: readonly ExcludedRegion[], offset: number): boolean {
  let low = 0;
  let high = regions.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const region = regions[middle];
    if (offset < region.start) {
      high = middle - 1;
    } else if (offset >= region.end) {
      low = middle + 1;
    } else {
      return true;
    }
  }
  return false;
}

/** A comment, script/style body or (Markdown) code span that starts at `i`, ending before `limit` (the next fence). */
function regionStartingAt(text: string, i: number, limit: number, format: ImageDocumentFormat): ExcludedRegion | undefined {
  const c = text[i];
  if (c === "<") {
    if (text.startsWith("<!--", i)) {
      const close = text.indexOf("-->", i + 4);
      return { start: i, end: close < 0 || close >= limit ? limit : close + 3 };
    }
    const element = /^<(script|style)(?=[\s>])/i.exec(text.slice(i, i + 8));
    if (element !== null) {
      const closeMatch = new RegExp(`</${element[1]}\\s*>`, "i").exec(text.slice(i));
      const end = closeMatch === null ? limit : Math.min(limit, i + closeMatch.index + closeMatch[0].length);
      return { start: i, end };
    }
    return undefined;
  }
  if (c === "`" && format === "markdown" && (i === 0 || text[i - 1] !== "`") && !escapedAt(text, i)) {
    return codeSpan(text, i, limit);
  }
  return undefined;
}

/**
 * A code span opened by the backtick run at `open`: it closes at the next run of exactly the same length
 * within the same paragraph (no blank line between). An opener without a closer is literal text.
 */
function codeSpan(text: string, open: number, limit: number): ExcludedRegion | undefined {
  const length = runLength(text, open, "`");
  const paragraphEnd = nextBlankLine(text, open + length, limit);
  let i = open + length;
  while (i < paragraphEnd) {
    const next = text.indexOf("`", i);
    if (next < 0 || next >= paragraphEnd) {
      return undefined;
    }
    const run = runLength(text, next, "`");
    if (run === length) {
      return { start: open, end: next + run };
    }
    i = next + run;
  }
  return undefined;
}

/**
 * Fenced code blocks (``` or ~~~, three or more), each from its opening line to the end of its closing
 * line, or to the end of the document when unclosed. Fences are recognised after any indentation and
 * block-quote markers, so fences inside list items and quotes count too.
 */
function findFencedBlocks(text: string): ExcludedRegion[] {
  const blocks: ExcludedRegion[] = [];
  const linePattern = /[^\n]*(?:\n|$)/g;
  let open: { start: number; marker: string; length: number } | undefined;
  for (const match of text.matchAll(linePattern)) {
    const line = match[0];
    if (line === "") {
      break;
    }
    const content = line.replace(/^[ \t]*(?:>[ \t]?)*[ \t]*/, "").replace(/\r?\n$/, "");
    if (open === undefined) {
      const fence = /^(`{3,}|~{3,})(.*)$/.exec(content);
      // A backtick fence's info string may not contain backticks (that would be an inline code span).
      if (fence !== null && !(fence[1][0] === "`" && fence[2].includes("`"))) {
        open = { start: match.index, marker: fence[1][0], length: fence[1].length };
      }
    } else {
      const close = /^(`{3,}|~{3,})[ \t]*$/.exec(content);
      if (close !== null && close[1][0] === open.marker && close[1].length >= open.length) {
        blocks.push({ start: open.start, end: match.index + line.length });
        open = undefined;
      }
    }
  }
  if (open !== undefined) {
    blocks.push({ start: open.start, end: text.length });
  }
  return blocks;
}

function runLength(text: string, from: number, char: string): number {
  let i = from;
  while (text[i] === char) {
    i += 1;
  }
  return i - from;
}

function nextBlankLine(text: string, from: number, limit: number): number {
  const blank = /\n[ \t]*\r?\n/g;
  blank.lastIndex = from;
  const match = blank.exec(text);
  return match === null ? limit : Math.min(limit, match.index);
}

function escapedAt(text: string, index: number): boolean {
  let count = 0;
  for (let i = index - 1; i >= 0 && text[i] === "\\"; i--) {
    count += 1;
  }
  return count % 2 === 1;
}
