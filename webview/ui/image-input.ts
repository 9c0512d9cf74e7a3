/**
 * Images pasted from the clipboard or dropped on the webview, turned into the `imageDropped` message.
 * The webview cannot open files itself; the host stores or forwards the bytes and answers with `showImage`.
 */
import { ACCEPTED_IMAGE_MIME_TYPES, MAX_DROPPED_IMAGE_BYTES } from "../protocol";
import type { ImageDroppedMessage } from "../protocol";
import { bytesToBase64 } from "./dom";

/** Either the message for the host or why the file was refused (shown to the user). */
export type ImageFileResult = { readonly ok: true; readonly message: ImageDroppedMessage } | { readonly ok: false; readonly reason: string };

/** Reads a pasted or dropped file. */
export async function readImageFile(file: File): Promise<ImageFileResult> {
  if (!ACCEPTED_IMAGE_MIME_TYPES.includes(file.type)) {
    return { ok: false, reason: `${file.name || "The item"} is not an image Molmo can read (${file.type || "unknown type"}).` };
  }
  if (file.size > MAX_DROPPED_IMAGE_BYTES) {
    const megabytes = (MAX_DROPPED_IMAGE_BYTES / (1024 * 1024)).toFixed(0);
    return { ok: false, reason: `${file.name || "The image"} is larger than ${megabytes} MB.` };
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const extension = file.type.slice("image/".length).replace("jpeg", "jpg");
  const name = file.name !== "" ? file.name : `pasted-image.${extension}`;
  return { ok: true, message: { type: "imageDropped", base64: bytesToBase64(bytes), mime: file.type, name } };
}

/** The first image file of a paste or drop, if any. */
export function firstImageFile(items: DataTransfer | null): File | undefined {
  if (items === null) return undefined;
  for (const file of Array.from(items.files)) {
    if (file.type.startsWith("image/")) return file;
  }
  // Screenshots pasted from the clipboard arrive as items, not always as files.
  for (const item of Array.from(items.items)) {
    if (item.kind === "file" && item.type.startsWith("image/")) {
      const file = item.getAsFile();
      if (file !== null) return file;
    }
  }
  return undefined;
}
