/**
 * Stroke outlines of the digits 0–9, so that marker numbers render with no font installed (librsvg
 * draws `<text>` only through fontconfig fonts; a machine without any would show empty markers).
 * Each glyph lives in a box 6 units wide and 10 tall, origin top-left, and is meant to be stroked
 * (round caps and joins) about 1.6 units wide.
 */
const GLYPHS: readonly string[] = [
  "M3 0C6.6 0 6.6 10 3 10C-0.6 10-0.6 0 3 0Z",
  "M1.2 2.2L3.6 0V10M1.2 10H6",
  "M0.5 2.6C0.6-0.8 5.6-0.8 5.6 2.6C5.6 5.2 0.5 7.2 0.4 10H5.9",
  "M0.6 1C2.2-0.5 5.5 0 5.5 2.6C5.5 4.3 4.2 5 2.4 5C4.3 5 5.8 5.8 5.8 7.5C5.8 10.4 1.8 10.6 0.3 9",
  "M4.4 10V0L0.2 7H6",
  "M5.5 0H1L0.6 4.7C2.3 3.4 5.8 3.6 5.8 7.1C5.8 10.5 1.6 10.6 0.3 9",
  "M5.1 0.6C2.4-0.4 0.3 2.4 0.3 6.4C0.3 8.8 1.4 10 3 10C4.8 10 5.8 8.7 5.8 7C5.8 5.1 4.6 4.1 3 4.1C1.6 4.1 0.6 5 0.3 6.4",
  "M0.2 0H5.8L2.2 10",
  "M3 5C0.6 5 0.8 0 3 0C5.2 0 5.4 5 3 5C0.3 5 0.2 10 3 10C5.8 10 5.7 5 3 5Z",
  "M5.7 3.6C5.4 5.1 4.4 5.9 3 5.9C1.4 5.9 0.2 4.9 0.2 3C0.2 1.2 1.4 0 3 0C4.7 0 5.7 1.3 5.7 3.6C5.7 7.6 3.6 10.4 0.9 9.4",
];

/** Glyph box in units, and the gap between two digits. */
export const GLYPH_WIDTH = 6;
export const GLYPH_HEIGHT = 10;
const GLYPH_GAP = 1.6;
/** Stroke width, in glyph units, the outlines were drawn for. */
export const GLYPH_STROKE = 1.6;

/**
 * The SVG path data of a non-negative integer, digits side by side in glyph units (top-left at 0,0),
 * and the total width of the run in glyph units.
 */
export function digitsPath(value: number): { d: string; width: number } {
  const digits = String(Math.max(0, Math.trunc(value)));
  const parts: string[] = [];
  for (let i = 0; i < digits.length; i++) {
    const offset = i * (GLYPH_WIDTH + GLYPH_GAP);
    parts.push(shiftPath(GLYPHS[digits.charCodeAt(i) - 48], offset));
  }
  return { d: parts.join(""), width: digits.length * GLYPH_WIDTH + (digits.length - 1) * GLYPH_GAP };
}

/**
 * Moves a glyph right by `dx` units. The outlines use absolute commands only (M, L, C, H, V, Z);
 * H takes one x value and V one y value, the others take x,y pairs.
 */
function shiftPath(d: string, dx: number): string {
  if (dx === 0) return d;
  return d.replace(/([MLCHVZ])([^MLCHVZ]*)/g, (_whole, command: string, args: string) => {
    const numbers = args.match(/-?\d*\.?\d+/g) ?? [];
    const shifted = numbers.map((n, i) => {
      const isX = command === "H" || (command !== "V" && i % 2 === 0);
      return isX ? round(Number(n) + dx) : n;
    });
    return command + shifted.join(" ");
  });
}

function round(value: number): string {
  return String(Math.round(value * 100) / 100);
}
