/**
 * Renders the annotated PNG that "Save annotated PNG" sends to the host: the image at its natural size with
 * the same markers as the overlay (a filled disc with a white ring and the point's number). It is drawn
 * here because the webview holds the decoded image; the extension has no image library (sharp lives in
 * molmo-server only).
 */
import type { MolmoPoint } from "../../server/protocol/molmo-protocol";

/** The marker colour, shared with main.css's `--molmo-marker` default. */
export const MARKER_COLOUR = "#ff00c8";

/** Thrown when the image cannot be exported (not loaded, or a cross-origin image without CORS). */
export class AnnotatedPngError extends Error {
  override readonly name = "AnnotatedPngError";
  constructor(readonly code: "image_not_loaded" | "image_not_exportable", message: string) {
    super(message);
  }
}

/** The annotated image as PNG bytes, base64 (without the `data:` prefix). */
export function renderAnnotatedPng(image: HTMLImageElement, points: readonly MolmoPoint[]): string {
  const width = image.naturalWidth;
  const height = image.naturalHeight;
  if (!image.complete || width === 0 || height === 0) {
    throw new AnnotatedPngError("image_not_loaded", "The image has not loaded yet.");
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  if (context === null) throw new AnnotatedPngError("image_not_exportable", "This webview has no 2D canvas.");
  context.drawImage(image, 0, 0, width, height);

  // Markers scale with the image so they read the same on a 300 px icon and a 4K screenshot.
  const radius = Math.max(4, Math.round(Math.min(width, height) * 0.012));
  context.font = `bold ${Math.max(10, radius * 2)}px sans-serif`;
  context.textBaseline = "bottom";
  for (const point of points) {
    const x = (point.xPercent / 100) * width;
    const y = (point.yPercent / 100) * height;
    context.beginPath();
    context.arc(x, y, radius, 0, 2 * Math.PI);
    context.fillStyle = MARKER_COLOUR;
    context.fill();
    context.lineWidth = Math.max(1.5, radius / 3);
    context.strokeStyle = "#ffffff";
    context.stroke();
    const label = String(point.index);
    context.lineWidth = Math.max(2, radius / 2);
    context.strokeStyle = "rgba(0, 0, 0, 0.8)";
    context.strokeText(label, x + radius, y - radius);
    context.fillStyle = "#ffffff";
    context.fillText(label, x + radius, y - radius);
  }
  try {
    const dataUrl = canvas.toDataURL("image/png");
    return dataUrl.slice(dataUrl.indexOf(",") + 1);
  } catch (error) {
    // A cross-origin image loaded without CORS taints the canvas; VS Code's resource origin sends CORS
    // headers, so this only happens with other hosts.
    throw new AnnotatedPngError("image_not_exportable", `The image cannot be exported: ${String(error)}`);
  }
}
