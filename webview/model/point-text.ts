/** How a point is written in the webview: its label, its tooltip and its pixel coordinates. */
import type { MolmoPoint } from "../../server/protocol/molmo-protocol";

/** A point's label as shown: its text, or its alt text when the text is empty. */
export function pointLabel(point: MolmoPoint): string {
  const text = point.label.trim();
  return text !== "" ? text : (point.alt ?? "").trim();
}

/**
 * What hovering or focusing a marker shows: the label, and the alt text too when it says something else
 * (Molmo's point explanations put a short inline text in the tag and a longer description in `alt`).
 */
export function markerTooltip(point: MolmoPoint): string {
  const label = pointLabel(point);
  const alt = (point.alt ?? "").trim();
  if (label === "") return `Point ${point.index}`;
  return alt !== "" && alt !== label ? `${label} — ${alt}` : label;
}

/** Pixel coordinates as the points list shows them: whole pixels. */
export function formatPixels(point: MolmoPoint): string {
  return `${Math.round(point.x)}, ${Math.round(point.y)}`;
}
