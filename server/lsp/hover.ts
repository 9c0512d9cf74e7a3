/**
 * Hover on an image: a short description by Molmo. A hover never holds the editor up: it waits at most
 * `molmo.hover.budgetMs` and otherwise says Molmo is still looking, while the description goes on being
 * generated so the next hover shows it. A hover the client cancels stops the generation unless another
 * request waits for the same description (see image-descriptions.ts).
 */
import { MarkupKind, type CancellationToken, type Hover, type HoverParams } from "vscode-languageserver/node";
import type { TextDocument } from "vscode-languageserver-textdocument";
import { HostError } from "../host/host-errors";
import { ALT_TEXT_MAX_NEW_TOKENS, ALT_TEXT_QUESTION } from "./alt-text";
import { resolveDocumentImage } from "./document-images";
import { signalOf, type FeatureContext } from "./feature-context";
import type { DescriptionPrompt, DescriptionPurpose, ImageDescription } from "./image-descriptions";
import { imageAt, type ImageReference } from "./image-references";
import { toResponseError } from "./response-errors";

/** How hovers and alt text ask Molmo: a caption cut short for hovers, a one-sentence answer for alt text. */
export const DESCRIPTION_PROMPTS: Readonly<Record<DescriptionPurpose, DescriptionPrompt>> = {
  hover: { task: "caption", maxNewTokens: 64 },
  alt: { task: "ask", question: ALT_TEXT_QUESTION, maxNewTokens: ALT_TEXT_MAX_NEW_TOKENS },
};

/** Answers `textDocument/hover`: null off an image or with hovers turned off. */
export async function provideHover(context: FeatureContext, params: HoverParams, token: CancellationToken): Promise<Hover | null> {
  const settings = context.settings.current;
  if (!settings.hover.enabled) {
    return null;
  }
  const document = context.documents.get(params.textDocument.uri);
  if (document === undefined) {
    return null;
  }
  const image = imageAt(context.images.of(document), document.offsetAt(params.position));
  if (image === undefined) {
    return null;
  }
  const range = spanRange(document, image);
  const cancel = signalOf(token);
  try {
    const resolved = await resolveDocumentImage(image.target, document.uri, context.roots.paths(), settings);
    const description = await context.descriptions.describe(resolved, "hover", { budgetMs: settings.hover.budgetMs, signal: cancel.signal });
    const markdown = description === undefined ? `Molmo is still looking at ${inlineCode(image.target)}… Hover again in a moment.` : describedMarkdown(description);
    return { contents: { kind: MarkupKind.Markdown, value: markdown }, range };
  } catch (error) {
    if (error instanceof HostError && error.code === "cancelled") {
      throw toResponseError(error);
    }
    const message = error instanceof Error ? error.message : String(error);
    return { contents: { kind: MarkupKind.Markdown, value: `Molmo cannot describe ${inlineCode(image.target)}: ${escapeMarkdownText(message)}` }, range };
  } finally {
    cancel.dispose();
  }
}

function describedMarkdown(description: ImageDescription): string {
  const text = description.text === "" ? "(no description)" : escapeMarkdownText(description.text) + (description.truncated ? "…" : "");
  return `**Molmo:** ${text}\n\n_${escapeMarkdownText(description.model)} on ${escapeMarkdownText(description.ep)}, ${Math.round(description.totalMs)} ms_`;
}

function spanRange(document: TextDocument, image: ImageReference) {
  return { start: document.positionAt(image.span.start), end: document.positionAt(image.span.end) };
}

/** Text shown as Markdown literally: every character Markdown could take as markup is backslash-escaped. */
export function escapeMarkdownText(text: string): string {
  return text.replace(/[\\`*_[\]{}<>#|~&!]/g, (char) => `\\${char}`).replace(/\r?\n/g, "  \n");
}

/** A path as inline code, with a fence longer than any backtick run inside it. */
function inlineCode(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longestRun + 1);
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return `${fence} ${shown} ${fence}`;
}
