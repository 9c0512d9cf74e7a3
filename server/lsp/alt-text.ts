/**
 * Turning Molmo's answer into alt text and writing it into the document: the answer is cleaned into one
 * short line, then escaped for where it goes — Markdown bracket text or an HTML attribute value — so that
 * whatever the model wrote (brackets, quotes, angle brackets, ampersands) cannot break the markup.
 */
import { HostError } from "../host/host-errors";
import type { ImageReference, TextSpan } from "./image-references";

/** Longest alt text written (screen readers read it whole; longer descriptions belong in the text). */
export const MAX_ALT_TEXT_CHARS = 150;

/** The question asked for alt text (an `ask` task), and the token budget of its answer. */
export const ALT_TEXT_QUESTION = "Write alt text for this image: one short sentence that says what it shows, with no preamble.";
export const ALT_TEXT_MAX_NEW_TOKENS = 48;

/**
 * One line of alt text from a model answer: tags (`<point ...>`) removed, white space collapsed, a leading
 * "Alt text:" and surrounding quotes dropped, cut to the first sentence when long, and to
 * {@link MAX_ALT_TEXT_CHARS} at a word boundary.
 *
 * @throws {HostError} `engine_failed` when nothing usable is left.
 */
export function cleanAltText(answer: string): string {
  let text = answer
    .replace(/<[^<>]*>/g, " ")
    // Control characters (line breaks included) become spaces; \p{Cc} avoids a literal control range.
    .replace(/\p{Cc}/gu, " ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^(alt(ernative)?[ -]?text|description)\s*:\s*/i, "")
    .replace(/^["'“‘]+|["'”’]+$/g, "")
    .trim();
  if (text.length > MAX_ALT_TEXT_CHARS) {
    const sentence = /^.+?[.!?](?=\s|$)/.exec(text);
    if (sentence !== null && sentence[0].length >= 10) {
      text = sentence[0];
    }
  }
  if (text.length > MAX_ALT_TEXT_CHARS) {
    const cut = text.slice(0, MAX_ALT_TEXT_CHARS + 1);
    const lastSpace = cut.lastIndexOf(" ");
    text = `${(lastSpace >= MAX_ALT_TEXT_CHARS / 2 ? cut.slice(0, lastSpace) : cut.slice(0, MAX_ALT_TEXT_CHARS)).trimEnd()}…`;
  }
  if (text === "") {
    throw new HostError("engine_failed", "Molmo's answer held no usable alt text for this image; try again or write it by hand.");
  }
  return text;
}

/**
 * Alt text as Markdown bracket content: every character Markdown could read as markup (brackets, emphasis,
 * code, HTML, entities, backslashes) is backslash-escaped, which CommonMark allows before any ASCII punctuation.
 */
export function escapeMarkdownAlt(text: string): string {
  return text.replace(/[\\[\]*_`<>&!]/g, (char) => `\\${char}`);
}

/** Alt text as an HTML attribute value inside `quote` (both quotes escaped, so it is safe either way). */
export function escapeHtmlAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** A replacement of one span of the document. */
export interface SpanEdit {
  readonly span: TextSpan;
  readonly newText: string;
}

/** The edit that writes `altText` as the image's alt text, in the image's own syntax. */
export function altTextEdit(image: ImageReference, altText: string): SpanEdit {
  const html = escapeHtmlAttribute(altText);
  switch (image.altForm) {
    case "markdown":
      return { span: image.altSpan, newText: escapeMarkdownAlt(altText) };
    case "html-double-quoted":
    case "html-single-quoted":
      return { span: image.altSpan, newText: html };
    case "html-unquoted":
      return { span: image.altSpan, newText: `"${html}"` };
    case "html-bare":
      return { span: image.altSpan, newText: `="${html}"` };
    case "html-missing":
      return { span: image.altSpan, newText: ` alt="${html}"` };
  }
}
