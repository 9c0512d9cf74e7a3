/**
 * The point markers over the image. Each marker is a real <button> placed with percent coordinates inside
 * an overlay that covers exactly the image's box, so it stays on its pixel at any panel size or zoom
 * without any resize handling, while the marker itself keeps a constant on-screen size (a viewBox-scaled
 * SVG would shrink markers on a small panel). Buttons give keyboard focus and an accessible name for free;
 * the label shows on hover and on focus (CSS), and is tied to the button with aria-describedby.
 */
import type { MolmoPoint } from "../../server/protocol/molmo-protocol";
import { formatPixels, markerTooltip } from "../model/point-text";
import { createElement } from "./dom";

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}

/** The marker's id in the document, so the points list can reach it. */
export function markerId(point: MolmoPoint): string {
  return `marker-${point.index}`;
}

function createMarker(point: MolmoPoint): HTMLButtonElement {
  const marker = createElement("button", "marker");
  marker.type = "button";
  marker.id = markerId(point);
  marker.dataset.index = String(point.index);
  // CSSOM assignments, not a style attribute: the CSP has no 'unsafe-inline' for styles.
  marker.style.left = `${clampPercent(point.xPercent)}%`;
  marker.style.top = `${clampPercent(point.yPercent)}%`;
  marker.setAttribute("aria-label", `Point ${point.index} at ${formatPixels(point)}`);
  const tooltip = createElement("span", "marker-label", markerTooltip(point));
  tooltip.id = `marker-label-${point.index}`;
  tooltip.setAttribute("role", "tooltip");
  marker.setAttribute("aria-describedby", tooltip.id);
  marker.append(tooltip);
  return marker;
}

/** Replaces the overlay's markers with those of these points. */
export function renderMarkers(overlay: HTMLElement, points: readonly MolmoPoint[]): void {
  overlay.replaceChildren(...points.map(createMarker));
}
