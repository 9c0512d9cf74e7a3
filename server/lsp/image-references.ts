/**
 * Finds the images a Markdown or HTML document shows: `![alt](path "title")`, `![alt](<path with spaces>)`,
 * reference-style `![alt][ref]` / `![alt][]` / `![alt]` with their `[ref]: path` definitions, and `<img src alt>`
 * tags (in HTML files and as inline HTML in Markdown).
 *
 * Pure text in, plain offsets out: the LSP layer turns offsets into positions, so this file is tested without
 * a connection. It is a scanner, not a full CommonMark parser: it ignores what is code (fenced blocks, inline
 * code spans), HTML comments, and `<script>` / `<style>` bodies, which is what matters for images, and it
 * does not recognise indented (four-space) code blocks, whose detection needs the whole block structure
 * (lists, paragraphs) — an image written inside one is reported like any other.
 */
import { findExcludedRegions, isExcluded, type ExcludedRegion } from "./markdown-regions";
import { decodeHtmlEntities, parseHtmlAttributes, type HtmlAttribute } from "./html-tags";

/** A stretch of the document, in UTF-16 offsets (`end` exclusive), as `TextDocument.positionAt` takes them. */
export interface TextSpan {
  readonly start: number;
  readonly end: number;
}

/** Which syntax wrote the image. */
export type ImageSyntax = "markdown-inline" | "markdown-reference" | "html";

/**
 * How the alt text is written, so an edit can fill it in correctly: Markdown bracket content, an HTML
 * attribute value in double or single quotes or unquoted, an attribute with no value (`<img alt src=...>`),
 * or no alt attribute at all (the edit inserts one).
 */
export type AltTextForm = "markdown" | "html-double-quoted" | "html-single-quoted" | "html-unquoted" | "html-bare" | "html-missing";

/** One image of a document. */
export interface ImageReference {
  readonly syntax: ImageSyntax;
  /** The whole element: `![alt](path)`, `![alt][ref]`, `<img ...>`. */
  readonly span: TextSpan;
  /** The alt text (Markdown: as written between the brackets; HTML: the attribute, entities decoded); undefined when an `<img>` has no alt attribute. */
  readonly alt: string | undefined;
  /**
   * Where the alt text is written: the text between the brackets or the attribute's value (quotes excluded;
   * an empty span when empty); for `html-bare`, the empty span after the attribute's name; for
   * `html-missing`, the empty span after the tag name, where an attribute goes.
   */
  readonly altSpan: TextSpan;
  readonly altForm: AltTextForm;
  /**
   * The image to load: percent-decoded, Markdown escapes and HTML entities resolved, query and fragment
   * stripped from local paths. `http(s):` and `data:` targets are kept whole.
   */
  readonly target: string;
  /** The target as written. */
  readonly rawTarget: string;
  /** Where the target is written (for a reference-style image: in its definition). */
  readonly targetSpan: TextSpan;
  /** The reference label of a reference-style image, as written. */
  readonly label?: string;
}

/** What kind of text a document holds. */
export type ImageDocumentFormat = "markdown" | "html";

/**
 * The images of a document, in order of appearance. Images whose target is empty (`![x]()`) are left out:
 * there is nothing to look at.
 */
export function findImageReferences(text: string, format: ImageDocumentFormat): ImageReference[] {
  const excluded = findExcludedRegions(text, format);
  const found = format === "markdown" ? [...findMarkdownImages(text, excluded), ...findHtmlImages(text, excluded)] : findHtmlImages(text, excluded);
  return found.filter((image) => image.target !== "").sort((a, b) => a.span.start - b.span.start);
}

/** Whether an image lacks alt text (missing, empty or only white space). */
export function lacksAltText(image: ImageReference): boolean {
  return image.alt === undefined || image.alt.trim() === "";
}

/** The image whose element contains `offset` (its first or last character included), if any. */
export function imageAt(images: readonly ImageReference[], offset: number): ImageReference | undefined {
  return images.find((image) => offset >= image.span.start && offset <= image.span.end);
}

// ---------------------------------------------------------------------------------------------------------
// Markdown

interface LinkDefinition {
  readonly rawTarget: string;
  readonly targetSpan: TextSpan;
}

/**
 * Longest bracket text (alt text, reference label) looked for, in characters. CommonMark bounds labels at 999;
 * alt text is far shorter in practice. Without a bound every unclosed `![` scanned to its paragraph's end.
 */
const MAX_BRACKET_SCAN = 1000;
/** Deepest parenthesis nesting in a bare destination (cmark's bound), for the same reason. */
const MAX_PAREN_DEPTH = 32;

const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/;

function findMarkdownImages(text: string, excluded: readonly ExcludedRegion[]): ImageReference[] {
  const definitions = findLinkDefinitions(text, excluded);
  const images: ImageReference[] = [];
  let from = 0;
  for (;;) {
    const start = text.indexOf("![", from);
    if (start < 0) {
      break;
    }
    from = start + 2;
    if (isExcluded(excluded, start) || isEscaped(text, start)) {
      continue;
    }
    const altEnd = closingBracket(text, start + 1);
    if (altEnd < 0) {
      continue;
    }
    const altSpan = { start: start + 2, end: altEnd };
    const alt = text.slice(altSpan.start, altSpan.end);
    const image = inlineImage(text, start, altEnd, alt, altSpan) ?? referenceImage(text, start, altEnd, alt, altSpan, definitions);
    if (image !== undefined) {
      images.push(image);
      from = image.span.end;
    }
  }
  return images;
}

/** `![alt](dest "title")` starting at `start`, its `]` at `altEnd`. */
function inlineImage(text: string, start: number, altEnd: number, alt: string, altSpan: TextSpan): ImageReference | undefined {
  if (text[altEnd + 1] !== "(") {
    return undefined;
  }
  let i = skipSpaceWithinLine(text, altEnd + 2, true);
  let rawTarget: string;
  let targetSpan: TextSpan;
  if (text[i] === "<") {
    // An angle-bracketed destination may hold spaces; it ends at the first unescaped '>' on the line.
    let j = i + 1;
    while (j < text.length && text[j] !== ">" && text[j] !== "\n" && text[j] !== "<") {
      j += text[j] === "\\" ? 2 : 1;
    }
    if (text[j] !== ">") {
      return undefined;
    }
    targetSpan = { start: i + 1, end: j };
    rawTarget = text.slice(targetSpan.start, targetSpan.end);
    i = j + 1;
  } else {
    // A bare destination has no spaces or control characters; parentheses must balance.
    let j = i;
    let depth = 0;
    while (j < text.length) {
      const c = text[j];
      if (c === "\\" && j + 1 < text.length && ASCII_PUNCTUATION.test(text[j + 1])) {
        j += 2;
        continue;
      }
      if (/[\s\p{Cc}]/u.test(c)) {
        break;
      }
      if (c === "(") {
        depth += 1;
        if (depth > MAX_PAREN_DEPTH) {
          return undefined;
        }
      } else if (c === ")") {
        if (depth === 0) {
          break;
        }
        depth -= 1;
      }
      j += 1;
    }
    if (depth !== 0) {
      return undefined;
    }
    targetSpan = { start: i, end: j };
    rawTarget = text.slice(i, j);
    i = j;
  }
  const destinationEnd = i;
  i = skipSpaceWithinLine(text, i, true);
  // A title must be separated from the destination by white space.
  if (i > destinationEnd && (text[i] === '"' || text[i] === "'" || text[i] === "(")) {
    const titleEnd = closingTitle(text, i);
    if (titleEnd < 0) {
      return undefined;
    }
    i = skipSpaceWithinLine(text, titleEnd + 1, true);
  }
  if (text[i] !== ")") {
    return undefined;
  }
  return {
    syntax: "markdown-inline",
    span: { start, end: i + 1 },
    alt,
    altSpan,
    altForm: "markdown",
    target: normaliseTarget(unescapeMarkdown(rawTarget)),
    rawTarget,
    targetSpan,
  };
}

/** `![alt][label]`, `![alt][]` or `![alt]`, when a definition of the label exists. */
function referenceImage(
  text: string,
  start: number,
  altEnd: number,
  alt: string,
  altSpan: TextSpan,
  definitions: ReadonlyMap<string, LinkDefinition>,
): ImageReference | undefined {
  let label = alt;
  let end = altEnd + 1;
  if (text[altEnd + 1] === "[") {
    const labelEnd = closingBracket(text, altEnd + 1);
    if (labelEnd >= 0) {
      const written = text.slice(altEnd + 2, labelEnd);
      label = written.trim() === "" ? alt : written;
      end = labelEnd + 1;
    }
  }
  const definition = definitions.get(normaliseLabel(label));
  if (definition === undefined) {
    return undefined;
  }
  return {
    syntax: "markdown-reference",
    span: { start, end },
    alt,
    altSpan,
    altForm: "markdown",
    target: normaliseTarget(unescapeMarkdown(definition.rawTarget)),
    rawTarget: definition.rawTarget,
    targetSpan: definition.targetSpan,
    label,
  };
}

/** `[label]: dest "title"` lines (up to three spaces of indent); the first definition of a label wins, as in CommonMark. */
function findLinkDefinitions(text: string, excluded: readonly ExcludedRegion[]): Map<string, LinkDefinition> {
  const definitions = new Map<string, LinkDefinition>();
  const pattern = /^( {0,3})\[((?:[^\\\]\n]|\\.){1,999})\]:[ \t]*(?:<([^<>\n]*)>|(\S+))/gm;
  for (const match of text.matchAll(pattern)) {
    const start = match.index;
    if (isExcluded(excluded, start) || match[2].trim() === "") {
      continue;
    }
    const key = normaliseLabel(match[2]);
    if (definitions.has(key)) {
      continue;
    }
    const rawTarget = match[3] ?? match[4];
    const targetStart = match[3] !== undefined ? start + match[0].length - rawTarget.length - 1 : start + match[0].length - rawTarget.length;
    definitions.set(key, { rawTarget, targetSpan: { start: targetStart, end: targetStart + rawTarget.length } });
  }
  return definitions;
}

/** Labels match case-insensitively with runs of white space collapsed (CommonMark's label normalisation). */
function normaliseLabel(label: string): string {
  return label.trim().replace(/\s+/g, " ").toLowerCase();
}

/** The `]` that closes the `[` at `open` (nested brackets balanced, escapes skipped), or -1; never past a blank line. */
function closingBracket(text: string, open: number): number {
  let depth = 0;
  // Bounded, so that many unclosed brackets in one long paragraph cost linear time, not quadratic.
  const end = Math.min(text.length, open + MAX_BRACKET_SCAN);
  for (let i = open; i < end; i++) {
    const c = text[i];
    if (c === "\\") {
      i += 1;
    } else if (c === "[") {
      depth += 1;
    } else if (c === "]") {
      depth -= 1;
      if (depth === 0) {
        return i;
      }
    } else if (c === "\n" && /^\n[ \t]*(\n|$)/.test(text.slice(i, i + 200))) {
      return -1;
    }
  }
  return -1;
}

/** The character closing a link title opened at `open` (`"`, `'` or `(`), or -1. */
function closingTitle(text: string, open: number): number {
  const close = text[open] === "(" ? ")" : text[open];
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") {
      i += 1;
    } else if (c === close) {
      return i;
    } else if (c === "\n" && /^\n[ \t]*(\n|$)/.test(text.slice(i, i + 200))) {
      return -1;
    }
  }
  return -1;
}

/** Skips spaces and tabs, and (when `oneNewline`) at most one line ending. */
function skipSpaceWithinLine(text: string, from: number, oneNewline: boolean): number {
  let i = from;
  let newlines = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\r") {
      i += 1;
    } else if (c === "\n" && oneNewline && newlines === 0) {
      newlines += 1;
      i += 1;
    } else {
      break;
    }
  }
  return i;
}

/** Whether the character at `index` is escaped by an odd number of backslashes before it. */
function isEscaped(text: string, index: number): boolean {
  let count = 0;
  for (let i = index - 1; i >= 0 && text[i] === "\\"; i--) {
    count += 1;
  }
  return count % 2 === 1;
}

/** Markdown's backslash escapes (before ASCII punctuation) and entity references, resolved. */
function unescapeMarkdown(raw: string): string {
  return decodeHtmlEntities(raw.replace(/\\([!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~])/g, "$1"));
}

// ---------------------------------------------------------------------------------------------------------
// HTML

function findHtmlImages(text: string, excluded: readonly ExcludedRegion[]): ImageReference[] {
  const images: ImageReference[] = [];
  for (const match of text.matchAll(/<img(?=[\s/>])/gi)) {
    const start = match.index;
    if (isExcluded(excluded, start)) {
      continue;
    }
    const tag = parseHtmlAttributes(text, start + match[0].length);
    if (tag === undefined) {
      continue;
    }
    const src = findAttribute(tag.attributes, "src");
    if (src?.value === undefined) {
      continue;
    }
    const alt = findAttribute(tag.attributes, "alt");
    images.push({
      syntax: "html",
      span: { start, end: tag.end },
      alt: alt === undefined ? undefined : decodeHtmlEntities(alt.value?.text ?? ""),
      altSpan: alt?.value !== undefined ? alt.value.span : alt !== undefined ? { start: alt.nameSpan.end, end: alt.nameSpan.end } : { start: start + 4, end: start + 4 },
      altForm: alt === undefined ? "html-missing" : altFormOf(alt),
      target: normaliseTarget(decodeHtmlEntities(src.value.text)),
      rawTarget: src.value.text,
      targetSpan: src.value.span,
    });
  }
  return images;
}

function findAttribute(attributes: readonly HtmlAttribute[], name: string): HtmlAttribute | undefined {
  return attributes.find((attribute) => attribute.name.toLowerCase() === name);
}

function altFormOf(alt: HtmlAttribute): AltTextForm {
  switch (alt.value?.quote) {
    case '"':
      return "html-double-quoted";
    case "'":
      return "html-single-quoted";
    case "":
      return "html-unquoted";
    default:
      return "html-bare";
  }
}

// ---------------------------------------------------------------------------------------------------------
// Targets

/**
 * What a written target means as an image to load. Local paths lose their query and fragment (`img.png?v=2`
 * and `img.png#dark` name the file img.png) and are percent-decoded (`my%20shot.png` is `my shot.png`);
 * `file:` URIs lose query and fragment but keep their encoding (the URI parser decodes it); `http(s):` and
 * `data:` targets are kept whole, since the query is part of what a server returns.
 */
export function normaliseTarget(target: string): string {
  const trimmed = target.trim();
  if (/^(data|https?):/i.test(trimmed)) {
    return trimmed;
  }
  const cut = trimmed.search(/[?#]/);
  const withoutQuery = cut >= 0 ? trimmed.slice(0, cut) : trimmed;
  return /^file:/i.test(withoutQuery) ? withoutQuery : percentDecode(withoutQuery);
}

/** Decodes `%XX` runs that form valid UTF-8, leaving malformed ones as written. */
export function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}
