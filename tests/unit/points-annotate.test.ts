import assert from "node:assert/strict";
import { describe, it } from "node:test";
import sharp from "sharp";
import type { RgbImage } from "../../models/image/types";
import {
  annotatePng,
  annotationSvg,
  defaultRadius,
  layoutLabel,
  MARKER_FILL,
  type AnnotationPoint,
} from "../../models/points/annotate";
import { parsePoints } from "../../models/points/parse";
import { PointsError } from "../../models/points/types";

type Rgb = [number, number, number];

function solid(width: number, height: number, value: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value) };
}

async function decode(png: Buffer): Promise<{ width: number; height: number; pixel: (x: number, y: number) => Rgb }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // (x, y) are continuous image coordinates, as the points are: pixel i covers [i, i + 1).
  const pixel = (x: number, y: number): Rgb => {
    const i = (Math.floor(y) * info.width + Math.floor(x)) * 3;
    return [data[i], data[i + 1], data[i + 2]];
  };
  return { width: info.width, height: info.height, pixel };
}

function hex(colour: string): Rgb {
  return [1, 3, 5].map((i) => Number.parseInt(colour.slice(i, i + 2), 16)) as Rgb;
}

function near(actual: Rgb, expected: Rgb, tolerance = 12): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]) <= tolerance);
}

/** Whether some pixel within `reach` px of (x, y) is close to `colour`. */
function seen(pixel: (x: number, y: number) => Rgb, width: number, height: number, x: number, y: number, colour: Rgb, reach = 2): boolean {
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) {
      const px = Math.floor(x) + dx;
      const py = Math.floor(y) + dy;
      if (px >= 0 && py >= 0 && px < width && py < height && near(pixel(px, py), colour)) return true;
    }
  }
  return false;
}

const FILL = hex(MARKER_FILL);
const WHITE: Rgb = [255, 255, 255];
const DARK: Rgb = [17, 17, 17];

void describe("annotatePng", () => {
  // A non-square image, with points in the middle, near each edge and in the corners.
  const width = 480;
  const height = 270;
  const answer =
    'Counting the <points x1="50.0" y1="50.0" x2="2.0" y2="3.0" x3="98.0" y3="97.0" x4="99.5" y4="50.0" x5="20.0" y5="80.0" alt="cars">cars</points> shows a total of 5.';
  const points = parsePoints(answer, { width, height }).points;
  const r = defaultRadius(width, height);

  for (const [background, value, edge] of [["white", 255, DARK], ["black", 0, WHITE]] as const) {
    void it(`draws a visible marker at every point on a ${background} image`, async () => {
      const png = await annotatePng(solid(width, height, value), points, { labels: "none" });
      const image = await decode(png);
      assert.equal(image.width, width);
      assert.equal(image.height, height);
      for (const point of points) {
        // Below the digits, inside the disc: the fill colour, exactly at the point's column.
        const belowDigits = Math.min(point.y + 0.75 * r, height - 1);
        if (point.y + 0.75 * r < height) {
          assert.ok(near(image.pixel(point.x, belowDigits), FILL), `fill at point ${point.index}: ${image.pixel(point.x, belowDigits).join(",")}`);
        } else {
          assert.ok(seen(image.pixel, width, height, point.x, point.y - 0.75 * r, FILL), `fill at point ${point.index}`);
        }
        // The outline that contrasts with this background (dark halo on white, white ring on black)
        // crosses the point's column above the disc, or below it when the point is at the top edge.
        const direction = point.y - 1.5 * r >= 0 ? -1 : 1;
        let outlined = false;
        for (let d = 0.8 * r; d <= 1.5 * r && !outlined; d += 0.5) {
          const y = point.y + direction * d;
          if (y >= 0 && y < height) outlined = near(image.pixel(point.x, y), edge, 40);
        }
        assert.ok(outlined, `outline at point ${point.index}`);
      }
      // Far from any point the image is untouched.
      assert.deepEqual(image.pixel(width * 0.3, height * 0.2), [value, value, value]);
    });
  }

  void it("draws the number in white inside the marker without relying on fonts", async () => {
    const svg = annotationSvg(200, 200, [{ x: 100, y: 100, index: 8 }], { labels: "none" });
    assert.equal(svg.includes("<text"), false);
    const image = await decode(await annotatePng(solid(200, 200, 0), [{ x: 100, y: 100, index: 8 }], { markerRadius: 40 }));
    // The middle of an "8" is where its two loops meet.
    assert.ok(seen(image.pixel, 200, 200, 100, 100, WHITE, 3));
    // Left of the digit, inside the disc: fill.
    assert.ok(near(image.pixel(70, 100), FILL));
  });

  void it("numbers markers by the points' index, or by position when there is none", () => {
    const svg = annotationSvg(100, 100, [{ x: 10, y: 10 }, { x: 50, y: 50, index: 7 }, { x: 90, y: 90 }], { labels: "none" });
    assert.equal((svg.match(/<path /g) ?? []).length, 3);
    const withSeven = annotationSvg(100, 100, [{ x: 50, y: 50, index: 7 }], { labels: "none" });
    const withThree = annotationSvg(100, 100, [{ x: 50, y: 50 }, { x: 50, y: 50 }, { x: 50, y: 50 }], { labels: "none" });
    assert.notEqual(withSeven.match(/d="[^"]*"/)![0], withThree.match(/d="[^"]*"/g)![0]);
  });

  void it("accepts encoded bytes and keeps their size", async () => {
    const input = await sharp({ create: { width: 300, height: 120, channels: 3, background: "#3366cc" } }).jpeg().toBuffer();
    const image = await decode(await annotatePng(input, [{ x: 150, y: 60, label: "button" }]));
    assert.equal(image.width, 300);
    assert.equal(image.height, 120);
    assert.ok(near(image.pixel(150, 60 + 0.75 * defaultRadius(300, 120)), FILL));
  });

  void it("draws a dark label box beside the marker, once per distinct label by default", async () => {
    const pts: AnnotationPoint[] = [
      { x: 100, y: 100, label: "cat" },
      { x: 300, y: 100, label: "cat" },
    ];
    const svg = annotationSvg(400, 200, pts);
    assert.equal((svg.match(/<text /g) ?? []).length, 1);
    assert.equal((annotationSvg(400, 200, pts, { labels: "all" }).match(/<text /g) ?? []).length, 2);
    const image = await decode(await annotatePng(solid(400, 200, 255), pts, { markerRadius: 12 }));
    const box = layoutLabel(pts[0], "cat", 12, 400, 200)!;
    assert.ok(box.x > 100);
    // The left padding of the box is box colour at 80 % over white.
    const expected = Math.round(17 * 0.8 + 255 * 0.2);
    assert.ok(near(image.pixel(box.x + 3, box.y + box.height / 2), [expected, expected, expected], 20));
    // The text itself: white glyph pixels inside the box. This needs a font (Debian: fonts-dejavu-core).
    let bright = 0;
    for (let y = Math.ceil(box.y + 3); y < box.y + box.height - 3; y++) {
      for (let x = Math.ceil(box.x + 4); x < box.x + box.width - 4; x++) if (image.pixel(x, y)[0] > 200) bright++;
    }
    assert.ok(bright > 10, `label text pixels: ${bright}`);
  });

  void it("keeps labels inside the image near every edge and shortens labels wider than the image", () => {
    const long = "a very long label that would never fit in a small image";
    for (const [x, y] of [[0, 0], [199, 0], [0, 99], [199, 99], [100, 50], [195, 50]]) {
      for (const text of ["dog", long]) {
        const box = layoutLabel({ x, y }, text, 10, 200, 100)!;
        assert.ok(box.x >= 0 && box.x + box.width <= 200 + 1e-9, `x ${box.x}+${box.width}`);
        assert.ok(box.y >= 0 && box.y + box.height <= 100 + 1e-9, `y ${box.y}+${box.height}`);
      }
    }
    assert.equal(layoutLabel({ x: 195, y: 50 }, "dog", 10, 200, 100)!.x < 195, true);
    assert.ok(layoutLabel({ x: 10, y: 50 }, long, 10, 200, 100)!.text.endsWith("…"));
    assert.equal(layoutLabel({ x: 5, y: 5 }, "dog", 10, 8, 8), undefined);
  });

  void it("escapes label text so it cannot inject SVG", async () => {
    const evil = `</text><image href="file:///etc/passwd"/><script>alert(1)</script> & "quotes" 'too' \u0001\u0007 ]]>`;
    const svg = annotationSvg(400, 100, [{ x: 20, y: 50, label: evil }], { labels: "all" });
    assert.equal(svg.includes("<image"), false);
    assert.equal(svg.includes("<script"), false);
    assert.equal(svg.includes("\u0001"), false);
    assert.ok(svg.includes("&lt;/text&gt;&lt;image href=&quot;file:///etc/passwd&quot;/&gt;"));
    // And it renders: librsvg rejects an SVG that is not well-formed XML.
    const image = await decode(await annotatePng(solid(400, 100, 255), [{ x: 20, y: 50, label: evil }], { labels: "all" }));
    assert.ok(near(image.pixel(20, 50 + 0.75 * defaultRadius(400, 100)), FILL));
  });

  void it("scales markers with the image size", () => {
    assert.equal(defaultRadius(1920, 1080), 24);
    assert.ok(defaultRadius(4000, 3000) > defaultRadius(1920, 1080));
    assert.equal(defaultRadius(28, 500), 8);
    assert.equal(defaultRadius(100_000, 100_000), 64);
  });

  void it("returns the image unchanged in size when there are no points", async () => {
    const image = await decode(await annotatePng(solid(33, 17, 128), []));
    assert.equal(image.width, 33);
    assert.equal(image.height, 17);
    assert.deepEqual(image.pixel(16, 8), [128, 128, 128]);
  });

  void it("rejects bad input with typed errors", async () => {
    const isCode = (code: string) => (e: unknown) => e instanceof PointsError && e.code === code;
    await assert.rejects(annotatePng({ width: 10, height: 10, data: new Uint8Array(5) }, []), isCode("invalid_image"));
    await assert.rejects(annotatePng(solid(10, 10, 0), [{ x: Number.NaN, y: 1 }]), isCode("invalid_point"));
    await assert.rejects(annotatePng(solid(10, 10, 0), [{ x: 1, y: 1, index: 1.5 }]), isCode("invalid_point"));
    await assert.rejects(annotatePng(solid(10, 10, 0), [], { markerRadius: 0 }), isCode("invalid_option"));
    await assert.rejects(annotatePng(solid(10, 10, 0), [], { labels: "some" as never }), isCode("invalid_option"));
    await assert.rejects(annotatePng(new Uint8Array([1, 2, 3, 4]), []), (e: unknown) => e instanceof Error && e.name === "ImageLoadError");
  });
});
