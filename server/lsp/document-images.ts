/**
 * The images of the open documents, found once per document version (hover, code actions and diagnostics
 * all ask for them on every cursor move), and the resolution of an image reference against the document's
 * folder, the workspace folders and the image settings.
 */
import type { TextDocument } from "vscode-languageserver-textdocument";
import { resolveImageReference, type ResolvedImage } from "../host/image-access";
import { findImageReferences, type ImageDocumentFormat, type ImageReference } from "./image-references";
import type { ResolvedSettings } from "./settings";
import { documentFolder } from "./workspace-roots";

/** Which documents hold images this server understands. */
export function documentFormat(document: Pick<TextDocument, "languageId" | "uri">): ImageDocumentFormat | undefined {
  const path = document.uri.replace(/[?#].*$/, "");
  if (document.languageId === "markdown" || /\.(md|markdown|mdown|mkd|mdx)$/i.test(path)) {
    return "markdown";
  }
  if (document.languageId === "html" || /\.html?$/i.test(path)) {
    return "html";
  }
  return undefined;
}

/** Image references per open document, recomputed when the version changes. */
export class DocumentImages {
  private readonly cache = new Map<string, { version: number; images: ImageReference[] }>();

  /** The images of `document` (none for formats without images). */
  of(document: TextDocument): ImageReference[] {
    const cached = this.cache.get(document.uri);
    if (cached !== undefined && cached.version === document.version) {
      return cached.images;
    }
    const format = documentFormat(document);
    const images = format !== undefined ? findImageReferences(document.getText(), format) : [];
    this.cache.set(document.uri, { version: document.version, images });
    return images;
  }

  /** Forgets a closed document. */
  forget(uri: string): void {
    this.cache.delete(uri);
  }
}

/**
 * Resolves an image as a document references it: relative to the document's folder first, then to each
 * workspace folder; confined to the workspace folders unless `molmo.images.allowOutsideWorkspace`; remote
 * images only with `molmo.images.allowRemote`.
 *
 * @throws {HostError} as `resolveImageReference` does.
 */
export function resolveDocumentImage(target: string, documentUri: string | undefined, roots: readonly string[], settings: ResolvedSettings): Promise<ResolvedImage> {
  return resolveImageReference(
    target,
    { roots, allowOutsideRoots: settings.images.allowOutsideWorkspace, allowRemote: settings.images.allowRemote },
    documentFolder(documentUri),
  );
}
