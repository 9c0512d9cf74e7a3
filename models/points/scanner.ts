/**
 * An incremental scanner that finds Molmo's point constructs in generated text: `<point …>…</point>`,
 * `<points …>…</points>` (any case, any attribute quoting) and `Click(x, y)` / `Long Press(x, y)`.
 *
 * It is written for two constraints at once:
 * - Linear time on arbitrary input. There is no backtracking regular expression over unbounded text:
 *   every regular expression is either a literal search or a bounded sticky match, and each character is
 *   examined a constant number of times (a rejected tag resumes scanning where the problem was seen).
 * - Identical results whether the text arrives at once or in pieces. A decision is only taken once the
 *   characters it depends on are present; when a construct runs into the end of the text the scanner
 *   waits (streaming) or reports it as truncated (final). Decisions never depend on where a chunk ended.
 */

/** One attribute of an opening tag, value not yet entity-decoded. */
export interface RawAttribute {
  /** Lower-cased attribute name. */
  readonly name: string;
  readonly value: string;
  /** Absolute offset of the attribute name. */
  readonly offset: number;
}

/** A `<point>`/`<points>` element found in the text (offsets absolute). */
export interface RawTag {
  readonly type: "tag";
  /** Lower-cased element name. */
  readonly name: "point" | "points";
  readonly attributes: RawAttribute[];
  readonly start: number;
  /** Just past the `>` of the opening tag. */
  readonly openEnd: number;
  /** Where the close tag starts (= `end` when there is none). */
  readonly closeStart: number;
  readonly end: number;
  /** Raw inner text; undefined for self-closing tags and for labels cut off by the length limit. */
  readonly inner: string | undefined;
  readonly closing: "closed" | "self_closing" | "unclosed";
}

/** A `Click(x, y)` or `Long Press(x, y)` action (offsets absolute). */
export interface RawAction {
  readonly type: "action";
  readonly verb: string;
  readonly x: string;
  readonly y: string;
  readonly start: number;
  readonly end: number;
}

/** Something the scanner had to skip. */
export interface ScanIssue {
  readonly type: "issue";
  readonly reason: "truncated" | "malformed";
  readonly offset: number;
  readonly detail: string;
}

export type ScanItem = RawTag | RawAction | ScanIssue;

/** Opening tags longer than this are rejected: a 200-point Molmo tag is about 5,000 characters. */
export const MAX_OPEN_TAG_CHARS = 16_384;
/** Inner text longer than this is not a label: the tag is treated as unclosed. */
export const MAX_LABEL_CHARS = 1_000;

// A candidate start: a '<' or an action verb. Literal alternatives only, so the search is linear.
const CANDIDATE = /<|Click\(|Long Press\(/g;
// "Long Press" is 10 characters: a candidate cut by the end of a chunk is at most that long.
const CANDIDATE_TAIL = 10;
// Each WINDOW is the most characters its pattern can examine: once that many are present after a
// candidate, a non-match is final; with fewer, a streaming scanner waits for more text.
const TAG_NAME = /<(points?)(?=[\s>/])/iy;
const TAG_NAME_WINDOW = 8;
const CLOSE_TAG = /<\/\s{0,8}points?\s{0,8}>/iy;
const TERMINATOR_WINDOW = 25;
const ACTION = /(Click|Long Press)\(\s{0,3}(-?\d{1,6}(?:\.\d{1,6})?)\s{0,3},\s{0,3}(-?\d{1,6}(?:\.\d{1,6})?)\s{0,3}\)/y;
const ACTION_WINDOW = 64;
const LESS_THAN = /</g;
const ATTRIBUTE_NAME = /[A-Za-z0-9_:.-]+/y;
// A comma ends an unquoted value: it separates attributes or the halves of a legacy pair.
const UNQUOTED_VALUE = /[^\s"'<>=`,]+/y;
const DOUBLE_QUOTE_END = /["<]/g;
const SINGLE_QUOTE_END = /['<]/g;
const WHITESPACE = /\s*/y;

type OpenTagResult =
  | { kind: "ok"; attributes: RawAttribute[]; end: number; selfClosing: boolean }
  | { kind: "need_more"; resumeAt: number; attributes: RawAttribute[] }
  | { kind: "malformed"; at: number; detail: string };

/** An opening tag cut by the end of a chunk: where to resume reading it, so it is not re-read from its start. */
interface PartialOpenTag {
  start: number;
  resumeAt: number;
  attributes: RawAttribute[];
}

interface PendingTag {
  name: RawTag["name"];
  start: number;
  openEnd: number;
  labelScan: number;
  attributes: RawAttribute[];
}

/** Feed text with {@link feed}, then call {@link finish} once; both return the items completed. */
export class TagScanner {
  // Only the unconsumed tail of the text is kept; `base` is the absolute offset of buf[0].
  private buf = "";
  private base = 0;
  private pos = 0;
  private pending: PendingTag | undefined;
  private partial: PartialOpenTag | undefined;
  private finished = false;

  /** Appends `delta` and returns every item that it completed. */
  feed(delta: string): ScanItem[] {
    this.buf += delta;
    const items = this.run(false);
    this.compact();
    return items;
  }

  /** Declares the end of the text and returns the remaining items (truncated constructs as issues). */
  finish(): ScanItem[] {
    if (this.finished) return [];
    this.finished = true;
    return this.run(true);
  }

  private run(final: boolean): ScanItem[] {
    const items: ScanItem[] = [];
    for (;;) {
      const progressed = this.pending !== undefined ? this.stepLabel(final, items) : this.stepText(final, items);
      if (!progressed) return items;
    }
  }

  /** Drops the consumed prefix so that a long stream does not keep re-copying its whole text. */
  private compact(): void {
    const keepFrom = this.pending !== undefined ? this.pending.start : this.pos;
    if (keepFrom === 0) return;
    this.buf = this.buf.slice(keepFrom);
    this.base += keepFrom;
    this.pos -= keepFrom;
    if (this.partial !== undefined) {
      this.partial.start -= keepFrom;
      this.partial.resumeAt -= keepFrom;
    }
    if (this.pending !== undefined) {
      this.pending.start -= keepFrom;
      this.pending.openEnd -= keepFrom;
      this.pending.labelScan -= keepFrom;
    }
  }

  /** Outside any tag: finds the next candidate. Returns false when it must wait for more text. */
  private stepText(final: boolean, items: ScanItem[]): boolean {
    const text = this.buf;
    CANDIDATE.lastIndex = this.pos;
    const found = CANDIDATE.exec(text);
    if (found === null) {
      this.pos = final ? text.length : Math.max(this.pos, text.length - CANDIDATE_TAIL);
      return false;
    }
    const at = found.index;
    if (found[0] !== "<") return this.stepAction(at, final, items);

    TAG_NAME.lastIndex = at;
    const name = TAG_NAME.exec(text);
    if (name === null) {
      if (text.length - at < TAG_NAME_WINDOW) {
        if (!final) {
          this.pos = at;
          return false;
        }
        const rest = text.slice(at + 1).toLowerCase();
        if (rest.length >= 2 && "points".startsWith(rest)) {
          items.push(this.issue("truncated", at, "the text ends inside a tag name"));
        }
      }
      this.pos = at + 1;
      return true;
    }

    const tagName = name[1].toLowerCase() === "points" ? "points" : "point";
    const partial = this.partial !== undefined && this.partial.start === at ? this.partial : undefined;
    this.partial = undefined;
    const tag = partial === undefined ? this.readOpenTag(at, at + name[0].length, []) : this.readOpenTag(at, partial.resumeAt, partial.attributes);
    switch (tag.kind) {
      case "need_more":
        if (final) {
          items.push(this.issue("truncated", at, "the text ends inside the opening tag"));
          this.pos = text.length;
          return false;
        }
        this.partial = { start: at, resumeAt: tag.resumeAt, attributes: tag.attributes };
        this.pos = at;
        return false;
      case "malformed":
        items.push(this.issue("malformed", tag.at, tag.detail));
        this.pos = Math.max(tag.at, at + 1);
        return true;
      case "ok":
        if (tag.selfClosing) {
          items.push(this.tag(tagName, at, tag.end, tag.end, tag.end, tag.attributes, undefined, "self_closing"));
          this.pos = tag.end;
        } else {
          this.pending = { name: tagName, start: at, openEnd: tag.end, labelScan: tag.end, attributes: tag.attributes };
        }
        return true;
    }
  }

  private stepAction(at: number, final: boolean, items: ScanItem[]): boolean {
    const text = this.buf;
    ACTION.lastIndex = at;
    const match = ACTION.exec(text);
    if (match !== null) {
      const end = at + match[0].length;
      items.push({ type: "action", verb: match[1], x: match[2], y: match[3], start: this.base + at, end: this.base + end });
      this.pos = end;
      return true;
    }
    if (!final && text.length - at < ACTION_WINDOW) {
      this.pos = at;
      return false;
    }
    this.pos = at + 1;
    return true;
  }

  /** Inside a tag's inner text: looks for its close tag or the start of the next point tag. */
  private stepLabel(final: boolean, items: ScanItem[]): boolean {
    const text = this.buf;
    const tag = this.pending!;
    const labelLimit = tag.openEnd + MAX_LABEL_CHARS;
    for (;;) {
      LESS_THAN.lastIndex = tag.labelScan;
      const found = LESS_THAN.exec(text);
      const at = found === null ? text.length : found.index;
      if (at > labelLimit) {
        // Too long for a label: keep the points, and scan the text after the opening tag normally.
        items.push(this.tag(tag.name, tag.start, tag.openEnd, tag.openEnd, tag.openEnd, tag.attributes, undefined, "unclosed"));
        this.pending = undefined;
        this.pos = tag.openEnd;
        return true;
      }
      if (found === null) {
        tag.labelScan = text.length;
        if (!final) return false;
        items.push(this.tag(tag.name, tag.start, tag.openEnd, text.length, text.length, tag.attributes, text.slice(tag.openEnd), "unclosed"));
        this.pending = undefined;
        this.pos = text.length;
        return false;
      }
      CLOSE_TAG.lastIndex = at;
      const close = CLOSE_TAG.exec(text);
      if (close !== null) {
        const end = at + close[0].length;
        items.push(this.tag(tag.name, tag.start, tag.openEnd, at, end, tag.attributes, text.slice(tag.openEnd, at), "closed"));
        this.pending = undefined;
        this.pos = end;
        return true;
      }
      TAG_NAME.lastIndex = at;
      if (TAG_NAME.test(text)) {
        items.push(this.tag(tag.name, tag.start, tag.openEnd, at, at, tag.attributes, text.slice(tag.openEnd, at), "unclosed"));
        this.pending = undefined;
        this.pos = at;
        return true;
      }
      if (!final && text.length - at < TERMINATOR_WINDOW) {
        tag.labelScan = at;
        return false;
      }
      tag.labelScan = at + 1;
    }
  }

  /**
   * Reads the attributes of an opening tag from `from` (just past its name, or past the attributes
   * already read). Accepts double, single or no quotes, spaces around `=`, commas between attributes,
   * and the legacy `p=123, 456` value.
   */
  private readOpenTag(start: number, from: number, attributes: RawAttribute[]): OpenTagResult {
    const text = this.buf;
    const limit = Math.min(text.length, start + MAX_OPEN_TAG_CHARS);
    let i = from;
    // Where the last complete attribute ended: a later call resumes there.
    let boundary = from;
    // Running into `limit` means either "wait for more text" or, past the length cap, "reject".
    const needMore = (): OpenTagResult =>
      text.length >= start + MAX_OPEN_TAG_CHARS
        ? { kind: "malformed", at: start + MAX_OPEN_TAG_CHARS, detail: `the opening tag is longer than ${MAX_OPEN_TAG_CHARS} characters` }
        : { kind: "need_more", resumeAt: boundary, attributes };
    for (;;) {
      boundary = i;
      i = skipWhitespace(text, i);
      if (i >= limit) return needMore();
      const c = text[i];
      if (c === ">") return { kind: "ok", attributes, end: i + 1, selfClosing: false };
      if (c === "/") {
        if (i + 1 >= text.length) return needMore();
        if (text[i + 1] === ">") return { kind: "ok", attributes, end: i + 2, selfClosing: true };
        return { kind: "malformed", at: i, detail: "a '/' inside the opening tag" };
      }
      if (c === "<") return { kind: "malformed", at: i, detail: "a '<' inside the opening tag (is its '>' missing?)" };
      if (c === ",") {
        i += 1;
        continue;
      }
      ATTRIBUTE_NAME.lastIndex = i;
      const name = ATTRIBUTE_NAME.exec(text);
      if (name === null) return { kind: "malformed", at: i, detail: `unexpected ${JSON.stringify(c)} where an attribute name should be` };
      const nameStart = i;
      i += name[0].length;
      const afterName = skipWhitespace(text, i);
      if (afterName >= limit) return needMore();
      if (text[afterName] !== "=") {
        attributes.push({ name: name[0].toLowerCase(), value: "", offset: this.base + nameStart });
        i = afterName;
        continue;
      }
      const valueStart = skipWhitespace(text, afterName + 1);
      if (valueStart >= limit) return needMore();
      const value = this.readValue(valueStart, limit);
      if (value.kind !== "ok") return value.kind === "need_more" ? needMore() : value;
      attributes.push({ name: name[0].toLowerCase(), value: value.value, offset: this.base + nameStart });
      i = value.end;
    }
  }

  private readValue(
    at: number,
    limit: number,
  ): { kind: "ok"; value: string; end: number } | { kind: "need_more" } | { kind: "malformed"; at: number; detail: string } {
    const text = this.buf;
    const quote = text[at];
    if (quote === '"' || quote === "'") {
      const search = quote === '"' ? DOUBLE_QUOTE_END : SINGLE_QUOTE_END;
      search.lastIndex = at + 1;
      const found = search.exec(text);
      if (found === null || found.index >= limit) return { kind: "need_more" };
      if (found[0] === "<") return { kind: "malformed", at: found.index, detail: "a '<' inside a quoted value (is the closing quote missing?)" };
      return { kind: "ok", value: text.slice(at + 1, found.index), end: found.index + 1 };
    }
    const first = readUnquoted(text, at);
    if (first === undefined) return { kind: "malformed", at, detail: `unexpected ${JSON.stringify(quote)} where a value should be` };
    const end = at + first.length;
    if (end >= limit) return { kind: "need_more" };
    // `alt=dog/>`: the '/' belongs to the self-closing end, not to the value.
    if (first.endsWith("/") && text[end] === ">") return { kind: "ok", value: first.slice(0, -1), end: end - 1 };
    // Legacy per-mille pairs may be written `p=123,456`, `p=123, 456` or `p=123 , 456`: join the halves.
    // Anything else after a comma (`x=12, y=34`) is the next attribute, and the comma a separator.
    if (!/^\d{1,4}$/.test(first)) return { kind: "ok", value: first, end };
    const comma = skipWhitespace(text, end);
    if (comma >= limit) return { kind: "need_more" };
    if (text[comma] !== ",") return { kind: "ok", value: first, end };
    const secondAt = skipWhitespace(text, comma + 1);
    if (secondAt >= limit) return { kind: "need_more" };
    let second = readUnquoted(text, secondAt);
    let secondEnd = secondAt + (second?.length ?? 0);
    if (second !== undefined && secondEnd >= limit) return { kind: "need_more" };
    if (second?.endsWith("/") === true && text[secondEnd] === ">") {
      second = second.slice(0, -1);
      secondEnd -= 1;
    }
    if (second === undefined || !/^\d{1,4}$/.test(second)) return { kind: "ok", value: first, end };
    return { kind: "ok", value: `${first},${second}`, end: secondEnd };
  }

  private tag(
    name: RawTag["name"],
    start: number,
    openEnd: number,
    closeStart: number,
    end: number,
    attributes: RawAttribute[],
    inner: string | undefined,
    closing: RawTag["closing"],
  ): RawTag {
    const b = this.base;
    return { type: "tag", name, attributes, start: b + start, openEnd: b + openEnd, closeStart: b + closeStart, end: b + end, inner, closing };
  }

  private issue(reason: ScanIssue["reason"], at: number, detail: string): ScanIssue {
    return { type: "issue", reason, offset: this.base + at, detail };
  }
}

function skipWhitespace(text: string, at: number): number {
  WHITESPACE.lastIndex = at;
  return WHITESPACE.exec(text) === null ? at : WHITESPACE.lastIndex;
}

function readUnquoted(text: string, at: number): string | undefined {
  UNQUOTED_VALUE.lastIndex = at;
  const match = UNQUOTED_VALUE.exec(text);
  return match === null ? undefined : match[0];
}
