/**
 * The small piece of HTML the image finder needs: the attributes of one start tag, with where each name and
 * value is written (so an edit can replace a value or insert an attribute), and entity decoding.
 */
import type { TextSpan } from "./image-references";

/** One attribute of a start tag. */
export interface HtmlAttribute {
  readonly name: string;
  readonly nameSpan: TextSpan;
  /** Absent for a bare attribute (`<img alt>`). */
  readonly value?: {
    /** As written (entities not decoded). */
    readonly text: string;
    /** The value without its quotes. */
    readonly span: TextSpan;
    readonly quote: '"' | "'" | "";
  };
}

/** A start tag's attributes and the offset just past its `>`. */
export interface HtmlStartTag {
  readonly attributes: HtmlAttribute[];
  readonly end: number;
}

/**
 * Parses the attributes of a start tag whose name ends at `from`, up to its closing `>` (or `/>`).
 * Returns undefined for a tag that never closes (the user is still typing it).
 */
export function parseHtmlAttributes(text: string, from: number): HtmlStartTag | undefined {
  const attributes: HtmlAttribute[] = [];
  let i = from;
  for (;;) {
    while (i < text.length && /[\s/]/.test(text[i])) {
      i += 1;
    }
    if (i >= text.length || text[i] === "<") {
      return undefined;
    }
    if (text[i] === ">") {
      return { attributes, end: i + 1 };
    }
    const nameStart = i;
    while (i < text.length && !/[\s"'>/=<]/.test(text[i])) {
      i += 1;
    }
    if (i === nameStart) {
      // A stray quote: skip it rather than stall.
      i += 1;
      continue;
    }
    const nameSpan = { start: nameStart, end: i };
    const name = text.slice(nameStart, i);
    let j = i;
    while (j < text.length && /\s/.test(text[j])) {
      j += 1;
    }
    if (text[j] !== "=") {
      attributes.push({ name, nameSpan });
      continue;
    }
    j += 1;
    while (j < text.length && /\s/.test(text[j])) {
      j += 1;
    }
    const quote = text[j];
    if (quote === '"' || quote === "'") {
      const close = text.indexOf(quote, j + 1);
      if (close < 0) {
        return undefined;
      }
      const span = { start: j + 1, end: close };
      attributes.push({ name, nameSpan, value: { text: text.slice(span.start, span.end), span, quote } });
      i = close + 1;
    } else {
      const valueStart = j;
      while (j < text.length && !/[\s>]/.test(text[j])) {
        j += 1;
      }
      const span = { start: valueStart, end: j };
      attributes.push({ name, nameSpan, value: { text: text.slice(valueStart, j), span, quote: "" } });
      i = j;
    }
  }
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** Decodes numeric character references and the few named entities paths and alt texts use. */
export function decodeHtmlEntities(text: string): string {
  if (!text.includes("&")) {
    return text;
  }
  return text.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);/g, (whole, body: string) => {
    if (body.startsWith("#")) {
      const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body] ?? whole;
  });
}
