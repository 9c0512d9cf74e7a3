/**
 * Finds the image link under the cursor on one line of Markdown, for the editor context menu ("Ask Molmo
 * about Image…", "Generate Alt Text") and its `molmo.onImageLink` context key. It only has to answer
 * "which image did the user right-click", so it reads one line: inline images `![alt](target "title")`,
 * `![alt](<target with spaces>)`, reference images `![alt][ref]` / `![alt][]` / `![ref]` (resolved through
 * the definitions the caller collected) and HTML `<img src="...">`. molmo-server has the full finder
 * (code spans, fences, HTML documents) for hovers and code actions.
 *
 * Pure: no `vscode` import.
 */

/**
 * File extensions of the images Molmo reads (those of the server's image loader); package.json's menus use
 * the same list in their `resourceExtname` conditions.
 */
export const IMAGE_EXTENSIONS: readonly string[] = ["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "avif"];

/** An image link on a line. Columns are UTF-16 offsets into the line, end exclusive. */
export interface ImageLinkAtCursor {
  /** The link target as written, percent-decoded, without `<>`, title, query or fragment. */
  readonly target: string;
  readonly alt: string;
  /** Where the whole link sits on the line. */
  readonly start: number;
  readonly end: number;
}

/** Looks up a reference definition (`[ref]: target`) by its label, case-insensitively. */
export type ReferenceLookup = (label: string) => string | undefined;

const INLINE_IMAGE = /!\[((?:\\.|[^\\\]])*)\]\(\s*(<[^>\n]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
const REFERENCE_IMAGE = /!\[((?:\\.|[^\\\]])*)\](?:\[([^\]]*)\])?/g;
const HTML_IMAGE = /<img\b[^>]*>/gi;
const REFERENCE_DEFINITION = /^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)/;

/** The image link that contains `column` on `line`, or undefined. */
export function imageLinkAt(line: string, column: number, references: ReferenceLookup = () => undefined): ImageLinkAtCursor | undefined {
  const candidates = [...inlineImages(line), ...referenceImages(line, references), ...htmlImages(line)];
  return candidates.find((link) => column >= link.start && column <= link.end);
}

function inlineImages(line: string): ImageLinkAtCursor[] {
  const links: ImageLinkAtCursor[] = [];
  for (const match of line.matchAll(INLINE_IMAGE)) {
    const target = cleanTarget(match[2] ?? "");
    if (target !== "") {
      links.push({ target, alt: unescapeAlt(match[1] ?? ""), start: match.index, end: match.index + match[0].length });
    }
  }
  return links;
}

function referenceImages(line: string, references: ReferenceLookup): ImageLinkAtCursor[] {
  const links: ImageLinkAtCursor[] = [];
  for (const match of line.matchAll(REFERENCE_IMAGE)) {
    // An inline image's `](` follows directly; that case belongs to inlineImages.
    if (line[match.index + match[0].length] === "(" && match[2] === undefined) {
      continue;
    }
    const alt = match[1] ?? "";
    const label = match[2] !== undefined && match[2].trim() !== "" ? match[2] : alt;
    const definition = references(normalizeLabel(label));
    if (definition !== undefined) {
      const target = cleanTarget(definition);
      if (target !== "") {
        links.push({ target, alt: unescapeAlt(alt), start: match.index, end: match.index + match[0].length });
      }
    }
  }
  return links;
}

function htmlImages(line: string): ImageLinkAtCursor[] {
  const links: ImageLinkAtCursor[] = [];
  for (const match of line.matchAll(HTML_IMAGE)) {
    const src = attribute(match[0], "src");
    if (src !== undefined && src.trim() !== "") {
      links.push({ target: cleanTarget(src), alt: attribute(match[0], "alt") ?? "", start: match.index, end: match.index + match[0].length });
    }
  }
  return links;
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(tag);
  if (match === null) return undefined;
  return decodeHtmlEntities(match[1] ?? match[2] ?? match[3] ?? "");
}

function decodeHtmlEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_all, entity: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[entity] ?? "");
}

/** Strips `<>`, a query and a fragment (not for data: URIs), and percent-decodes what is left. */
function cleanTarget(raw: string): string {
  let target = raw.trim();
  if (target.startsWith("<") && target.endsWith(">")) {
    target = target.slice(1, -1).trim();
  }
  if (/^data:/i.test(target)) {
    return target;
  }
  if (!/^https?:/i.test(target)) {
    target = target.replace(/[?#].*$/, "");
  }
  try {
    return decodeURI(target);
  } catch {
    // A stray `%` is not an escape: keep the text as written.
    return target;
  }
}

function unescapeAlt(alt: string): string {
  return alt.replace(/\\(.)/g, "$1");
}

function normalizeLabel(label: string): string {
  return label.trim().replace(/\s+/g, " ").toLowerCase();
}

/** Collects the reference definitions (`[label]: target`) of a document's lines, labels normalised. */
export function collectReferenceDefinitions(lines: readonly string[]): Map<string, string> {
  const definitions = new Map<string, string>();
  for (const line of lines) {
    const match = REFERENCE_DEFINITION.exec(line);
    if (match !== null && match[1] !== undefined && match[2] !== undefined) {
      const label = normalizeLabel(match[1]);
      // CommonMark: the first definition of a label wins.
      if (!definitions.has(label)) definitions.set(label, match[2]);
    }
  }
  return definitions;
}

/** Whether a link target names a remote image (which the panel cannot show under its CSP). */
export function isRemoteTarget(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

/** Whether a link target is a `data:` URI. */
export function isDataTarget(target: string): boolean {
  return /^data:/i.test(target);
}
