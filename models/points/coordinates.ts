import { decodeEntities } from "./entities";
import type { RawAction, RawAttribute, RawTag } from "./scanner";
import type { PointIssueReason, PointTagKind } from "./types";

/** A point of one tag, in percent of the original image (0–100). */
export interface TagCoordinate {
  readonly xPercent: number;
  readonly yPercent: number;
  readonly imageIndex?: number;
}

/** A problem found in one attribute, with its absolute offset. */
export interface CoordinateIssue {
  readonly reason: PointIssueReason;
  readonly offset: number;
  readonly detail: string;
}

/** What one tag means: its kind, texts and accepted coordinates. */
export interface DecodedTag {
  readonly kind: PointTagKind;
  readonly alt?: string;
  readonly label: string;
  readonly coordinates: TagCoordinate[];
  readonly issues: CoordinateIssue[];
}

// Molmo v1 writes "%.1f"; the reference parser (olmo/util.py) accepts any decimal. Signs are accepted
// here only so that a negative value is reported as out of range rather than as unreadable.
const DECIMAL = /^\s*[+-]?(?:\d{1,9}(?:\.\d{0,9})?|\.\d{1,9})\s*$/;
const XY_NAME = /^([xy])(\d{0,6})$/;
const LEGACY_NAME = /^(?:p|\d{1,6})$/;
// Legacy per-mille pair, as in the reference's `(?:\d+|p)\s*=\s*([0-9]{3})\s*,\s*([0-9]{3})`.
const LEGACY_VALUE = /^\s*(\d{3})\s*,\s*(\d{3})\s*$/;
const MOLMO2_GROUP_SEPARATOR = /[;\t:,]/;
const MOLMO2_INT = /^\d{1,4}$/;
const MOLMO2_LEAD = /^\d{1,6}(?:\.\d{1,3})?$/;

/** Reads the coordinates, alt and label of one `<point>`/`<points>` element. Never throws. */
export function decodeTag(tag: RawTag): DecodedTag {
  const issues: CoordinateIssue[] = [];
  const byName = new Map<string, RawAttribute>();
  for (const attribute of tag.attributes) {
    if (byName.has(attribute.name)) {
      issues.push({ reason: "duplicate", offset: attribute.offset, detail: `attribute ${attribute.name} is given twice; the first is used` });
    } else {
      byName.set(attribute.name, attribute);
    }
  }
  const altAttribute = byName.get("alt");
  const alt = altAttribute === undefined ? undefined : decodeEntities(altAttribute.value).trim();
  const inner = tag.inner === undefined ? "" : decodeEntities(tag.inner).trim();
  // A closed tag's label is its inner text; otherwise the inner text may be cut short or be prose.
  const label = tag.closing === "closed" ? inner || (alt ?? "") : (alt ?? inner);

  const coords = byName.get("coords");
  if (coords !== undefined) {
    return { kind: "molmo2", alt, label, coordinates: molmo2Coordinates(coords, issues), issues };
  }
  const coordinates = v1Coordinates(tag, byName, issues);
  return { kind: tag.name, alt, label, coordinates, issues };
}

/** Reads a `Click(x, y)` action; its coordinates are percent, as in the reference. */
export function decodeAction(action: RawAction): DecodedTag {
  const issues: CoordinateIssue[] = [];
  const point = percentPair(action.x, action.y, 100, action.start, issues);
  return { kind: "action", label: action.verb, coordinates: point === undefined ? [] : [point], issues };
}

/**
 * Converts two written values to a percent pair, or records why not. `scale` is the value of 100 %:
 * 100 for Molmo v1, 1000 for Molmo2 and the legacy per-mille form.
 */
export function percentPair(
  xText: string,
  yText: string,
  scale: number,
  offset: number,
  issues: CoordinateIssue[],
): TagCoordinate | undefined {
  if (!DECIMAL.test(xText) || !DECIMAL.test(yText)) {
    issues.push({ reason: "malformed", offset, detail: `unreadable coordinate ${JSON.stringify(`${xText}, ${yText}`.slice(0, 40))}` });
    return undefined;
  }
  const x = Number(xText);
  const y = Number(yText);
  if (!(x >= 0 && x <= scale && y >= 0 && y <= scale)) {
    issues.push({ reason: "out_of_range", offset, detail: `coordinate (${x}, ${y}) is outside 0–${scale}` });
    return undefined;
  }
  return scale === 100 ? { xPercent: x, yPercent: y } : { xPercent: (x * 100) / scale, yPercent: (y * 100) / scale };
}

/** `x="…" y="…"`, `x1 y1 x2 y2 …` in any order, and the legacy `p=123,456` / `1=123,456 2=…` forms. */
function v1Coordinates(tag: RawTag, byName: Map<string, RawAttribute>, issues: CoordinateIssue[]): TagCoordinate[] {
  // Slots in order of first appearance: the model writes x1 y1 x2 y2 …, so that is point order.
  const slots = new Map<string, { x?: RawAttribute; y?: RawAttribute; legacy?: RawAttribute }>();
  for (const attribute of byName.values()) {
    const xy = XY_NAME.exec(attribute.name);
    if (xy !== null) {
      const key = `n${Number(xy[2] === "" ? "0" : xy[2])}`;
      const slot = slots.get(key) ?? {};
      slot[xy[1] as "x" | "y"] = attribute;
      slots.set(key, slot);
    } else if (LEGACY_NAME.test(attribute.name)) {
      slots.set(`legacy:${attribute.name}`, { legacy: attribute });
    }
  }
  if (slots.size === 0) {
    issues.push({ reason: "malformed", offset: tag.start, detail: "the tag has no coordinates" });
    return [];
  }
  const coordinates: TagCoordinate[] = [];
  for (const slot of slots.values()) {
    let point: TagCoordinate | undefined;
    if (slot.legacy !== undefined) {
      const pair = LEGACY_VALUE.exec(slot.legacy.value);
      if (pair === null) {
        issues.push({ reason: "malformed", offset: slot.legacy.offset, detail: `legacy point ${slot.legacy.name}= needs "ddd,ddd"` });
      } else {
        point = percentPair(pair[1], pair[2], 1000, slot.legacy.offset, issues);
      }
    } else if (slot.x === undefined || slot.y === undefined) {
      const present = (slot.x ?? slot.y)!;
      issues.push({ reason: "unpaired", offset: present.offset, detail: `${present.name} has no matching ${present.name.startsWith("x") ? "y" : "x"}` });
    } else {
      point = percentPair(slot.x.value, slot.y.value, 100, slot.x.offset, issues);
    }
    if (point !== undefined) coordinates.push(point);
  }
  return coordinates;
}

/**
 * Molmo2 `coords="1 1 460 588 2 504 740"`: groups separated by ';' (html-v2) or a tab (html-v1)
 * (the formatter also allows ':' and ','), each an image index or timestamp followed by
 * `id x y` triplets of integers in 0–1000.
 */
function molmo2Coordinates(attribute: RawAttribute, issues: CoordinateIssue[]): TagCoordinate[] {
  const coordinates: TagCoordinate[] = [];
  const malformed = (detail: string): void => {
    issues.push({ reason: "malformed", offset: attribute.offset, detail });
  };
  for (const group of attribute.value.split(MOLMO2_GROUP_SEPARATOR)) {
    const fields = group.trim().split(/\s+/).filter((field) => field !== "");
    if (fields.length === 0) continue;
    const lead = fields[0];
    if (!MOLMO2_LEAD.test(lead)) {
      malformed(`coordinate group ${JSON.stringify(group.slice(0, 40))} does not start with an image index`);
      continue;
    }
    const imageIndex = Number(lead);
    const rest = fields.slice(1);
    if (rest.length % 3 !== 0) malformed(`coordinate group ${JSON.stringify(group.slice(0, 40))} does not hold whole "id x y" triplets`);
    for (let i = 0; i + 2 < rest.length; i += 3) {
      const [id, x, y] = [rest[i], rest[i + 1], rest[i + 2]];
      if (!MOLMO2_INT.test(id) || !MOLMO2_INT.test(x) || !MOLMO2_INT.test(y)) {
        malformed(`unreadable triplet ${JSON.stringify(`${id} ${x} ${y}`.slice(0, 40))}`);
        continue;
      }
      const point = percentPair(x, y, 1000, attribute.offset, issues);
      if (point !== undefined) coordinates.push({ ...point, imageIndex });
    }
  }
  if (coordinates.length === 0 && issues.length === 0) malformed("coords holds no points");
  return coordinates;
}
