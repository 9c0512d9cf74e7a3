import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import sharp from "sharp";
import { ImageLoadError, loadImage, type ImageLoadErrorCode, type LoadedImage } from "../../models/image/load";
import {
  PALETTE,
  fromRaw,
  gradientRgb,
  gradientRgba,
  greyRamp,
  makeBmp,
  makeCmykJpeg,
  makeExifRotatedJpeg,
  makeExifRotatedPng,
  makeGif,
  makeGradientPng,
  makeGreyPng,
  makeJpeg,
  makeLosslessAvif,
  makeLosslessWebp,
  makeMultiFrame,
  makePalettePng,
  makePngHeaderOnly,
  makeRgbaPng,
  makeSixteenBitPng,
  makeTiff,
  maxAbsDiff,
  pixelAt,
  quadrantsRgb,
  toRgbDroppingAlpha,
  withJfifVersion,
  withJpegFrameSize,
  type RawPixels,
} from "../helpers/images";

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "molmo-image-load-"));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes bytes to a fresh file in the temp dir and returns its path. */
function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Asserts that loading rejects with an ImageLoadError of `code` whose message contains every `mentions`. */
async function rejectsWith(
  promise: Promise<unknown>,
  code: ImageLoadErrorCode,
  ...mentions: string[]
): Promise<ImageLoadError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ImageLoadError, `expected ImageLoadError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const text of mentions) {
    assert.ok(caught.message.includes(text), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(text)}`);
  }
  return caught;
}

/** Maps a displayed pixel back to the stored pixel for EXIF orientation 1..8 (stored size w x h). */
function storedCoordinate(orientation: number, x: number, y: number, w: number, h: number): [number, number] {
  switch (orientation) {
    case 1: return [x, y];
    case 2: return [w - 1 - x, y];
    case 3: return [w - 1 - x, h - 1 - y];
    case 4: return [x, h - 1 - y];
    case 5: return [y, x];
    case 6: return [y, h - 1 - x];
    case 7: return [w - 1 - y, h - 1 - x];
    case 8: return [w - 1 - y, x];
    default: throw new Error(`bad orientation ${orientation}`);
  }
}

/** The upright RGB image a viewer shows for stored pixels with the given EXIF orientation. */
function applyOrientation(stored: RawPixels, orientation: number): { width: number; height: number; data: Uint8Array } {
  const swap = orientation >= 5;
  const width = swap ? stored.height : stored.width;
  const height = swap ? stored.width : stored.height;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = storedCoordinate(orientation, x, y, stored.width, stored.height);
      data.set(stored.data.subarray((sy * stored.width + sx) * 3, (sy * stored.width + sx) * 3 + 3), (y * width + x) * 3);
    }
  }
  return { width, height, data };
}

function assertRgb(image: LoadedImage, expected: Uint8Array, tolerance = 0): void {
  assert.equal(image.data.length, image.width * image.height * 3);
  const diff = maxAbsDiff(image.data, expected);
  assert.ok(diff <= tolerance, `max abs difference ${diff} > ${tolerance}`);
}

void describe("loadImage: formats round-trip with their pixel values", () => {
  const pixels = gradientRgb(40, 30);

  void it("PNG (RGB) is exact", async () => {
    const image = await loadImage(await makeGradientPng(40, 30));
    assert.deepEqual([image.width, image.height, image.format, image.hadAlpha, image.orientationApplied], [40, 30, "png", false, 1]);
    assertRgb(image, pixels.data);
  });

  void it("JPEG (quality 100, 4:4:4) is within 3 levels", async () => {
    const image = await loadImage(await makeJpeg(pixels));
    assert.equal(image.format, "jpeg");
    assertRgb(image, pixels.data, 3);
  });

  void it("WebP (lossless) is exact", async () => {
    const image = await loadImage(await makeLosslessWebp(pixels));
    assert.equal(image.format, "webp");
    assertRgb(image, pixels.data);
  });

  void it("AVIF (lossless) is exact", async () => {
    const image = await loadImage(await makeLosslessAvif(pixels));
    assert.equal(image.format, "avif");
    assertRgb(image, pixels.data);
  });

  void it("TIFF is exact", async () => {
    const image = await loadImage(await makeTiff(pixels));
    assert.equal(image.format, "tiff");
    assertRgb(image, pixels.data);
  });

  void it("GIF (<= 256 colours) is exact", async () => {
    const quadrants = quadrantsRgb(40, 30);
    const image = await loadImage(await makeGif(quadrants));
    assert.equal(image.format, "gif");
    assertRgb(image, quadrants.data);
  });

  void it("animated GIF, animated WebP and multi-page TIFF give the first frame only", async () => {
    const frames = [[200, 10, 10], [10, 200, 10], [10, 10, 200]] as const;
    for (const format of ["gif", "webp", "tiff"] as const) {
      const image = await loadImage(await makeMultiFrame(format, 12, 8, frames));
      assert.deepEqual([image.width, image.height], [12, 8], format);
      assert.deepEqual(pixelAt(image, 5, 5), [200, 10, 10], format);
      assert.deepEqual(pixelAt(image, 11, 7), [200, 10, 10], format);
    }
  });

  void it("SVG is rasterised at its declared size, transparent background on white", async () => {
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">' +
      '<rect width="10" height="10" fill="#ff0000"/><rect x="10" width="5" height="10" fill="#0000ff"/></svg>';
    const image = await loadImage(Buffer.from(svg));
    assert.deepEqual([image.width, image.height, image.format, image.hadAlpha], [20, 10, "svg", true]);
    assert.deepEqual(pixelAt(image, 2, 5), [255, 0, 0]);
    assert.deepEqual(pixelAt(image, 12, 5), [0, 0, 255]);
    assert.deepEqual(pixelAt(image, 18, 5), [255, 255, 255]);
  });

  void it("BMP: decoded where this sharp build can, otherwise a clear unsupported_format naming BMP", async () => {
    const bmp = makeBmp(pixels);
    const formats = sharp.format as unknown as Record<string, { input: { buffer: boolean } } | undefined>;
    if (formats.magick?.input.buffer === true) {
      assertRgb(await loadImage(bmp), pixels.data);
    } else {
      await rejectsWith(loadImage(file("picture.bmp", bmp)), "unsupported_format", "picture.bmp", "BMP");
    }
  });
});

void describe("loadImage: EXIF orientation", () => {
  const stored = quadrantsRgb(64, 32);

  for (let orientation = 1; orientation <= 8; orientation++) {
    void it(`JPEG orientation ${orientation} gives the upright image`, async () => {
      const image = await loadImage(await makeExifRotatedJpeg(orientation, 64, 32));
      const expected = applyOrientation(stored, orientation);
      assert.equal(image.orientationApplied, orientation);
      assert.deepEqual([image.width, image.height], [expected.width, expected.height]);
      assertRgb(image, expected.data, 8);
    });
  }

  // Independent of applyOrientation: where the stored top-left (red) quadrant must end up.
  const cornerCases: [number, "topLeft" | "topRight" | "bottomLeft" | "bottomRight"][] = [
    [3, "bottomRight"],
    [6, "topRight"],
    [8, "bottomLeft"],
  ];
  for (const [orientation, corner] of cornerCases) {
    void it(`orientation ${orientation} moves the stored top-left quadrant to the ${corner}`, async () => {
      const image = await loadImage(await makeExifRotatedJpeg(orientation, 64, 32));
      if (orientation !== 3) assert.deepEqual([image.width, image.height], [32, 64]);
      const x = corner.endsWith("Left") ? 2 : image.width - 3;
      const y = corner.startsWith("top") ? 2 : image.height - 3;
      const [r, g, b] = pixelAt(image, x, y);
      assert.ok(r > 240 && g < 15 && b < 15, `expected red at ${corner}, got ${[r, g, b].join(",")}`);
    });
  }

  void it("PNG with an eXIf orientation (6) is rotated too", async () => {
    const image = await loadImage(await makeExifRotatedPng(6, 64, 32));
    assert.equal(image.orientationApplied, 6);
    assertRgb(image, applyOrientation(stored, 6).data);
  });
});

void describe("loadImage: conversion to RGB like PIL's convert('RGB')", () => {
  void it("RGBA: alpha is dropped, colour under transparent pixels kept (no compositing)", async () => {
    const rgba = gradientRgba(40, 30);
    const image = await loadImage(await makeRgbaPng(40, 30));
    assert.equal(image.hadAlpha, true);
    assertRgb(image, toRgbDroppingAlpha(rgba));
  });

  void it("grey and grey+alpha are replicated into R, G, B", async () => {
    assertRgb(await loadImage(await makeGreyPng(40, 30)), toRgbDroppingAlpha(greyRamp(40, 30)));
    const la = await loadImage(await makeGreyPng(40, 30, true));
    assert.equal(la.hadAlpha, true);
    assertRgb(la, toRgbDroppingAlpha(greyRamp(40, 30, true)));
  });

  void it("palette with transparency maps through the palette, transparency ignored", async () => {
    const image = await loadImage(await makePalettePng(40, 30, true));
    assert.equal(image.hadAlpha, true);
    for (let x = 0; x < 40; x++) {
      const colour = PALETTE[(x >> 2) % PALETTE.length];
      // The encoder may store any colour for a fully transparent entry; the PIL comparison covers those.
      if (colour[3] === 0) continue;
      assert.deepEqual(pixelAt(image, x, 3), colour.slice(0, 3), `x=${x}`);
    }
  });

  void it("palette without transparency maps through the palette", async () => {
    const image = await loadImage(await makePalettePng(40, 30));
    assert.equal(image.hadAlpha, false);
    for (let x = 0; x < 40; x++) {
      assert.deepEqual(pixelAt(image, x, 3), PALETTE[(x >> 2) % PALETTE.length].slice(0, 3), `x=${x}`);
    }
  });

  void it("16-bit RGB keeps the high byte of each sample", async () => {
    const image = await loadImage(await makeSixteenBitPng(40, 30));
    const expected = new Uint8Array(40 * 30 * 3).map((_, i) => ((i * 1237) % 65536) >> 8);
    assertRgb(image, expected);
  });
});

/** Decodes files with PIL exactly as the reference's load_image does; writes <file>.pil.rgb beside each. */
const PIL_REFERENCE_LOADER = `
import json, sys, warnings
from PIL import Image, ImageOps
for path in sys.argv[1:]:
    with Image.open(path) as image:
        mode = image.mode
        with warnings.catch_warnings(record=True):
            rgb = image.convert("RGB")
        try:
            rgb = ImageOps.exif_transpose(rgb)
        except Exception:
            pass
        with open(path + ".pil.rgb", "wb") as out:
            out.write(rgb.tobytes())
        print(json.dumps({"path": path, "mode": mode, "width": rgb.size[0], "height": rgb.size[1]}))
`;

/** A python3 that can import PIL: the one on PATH, else the system one (Debian's python3-pil). */
function findPythonWithPil(): string | undefined {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(candidate, ["-c", "import PIL"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

void describe("loadImage matches the reference loader (PIL convert('RGB') + exif_transpose)", () => {
  const python = findPythonWithPil();
  const skip = python === undefined ? "python3 with Pillow not found (apt-get install python3-pil)" : false;

  void it("gives the same RGB bytes for every kind of image PIL can open", { skip }, async () => {
    const transparentQuadrants = new Uint8Array(40 * 30 * 4);
    const quadrants = quadrantsRgb(40, 30);
    for (let p = 0; p < 40 * 30; p++) {
      transparentQuadrants.set(quadrants.data.subarray(p * 3, p * 3 + 3), p * 4);
      transparentQuadrants[p * 4 + 3] = p % 40 < 10 ? 0 : 255;
    }
    const cases: Record<string, Buffer> = {
      "rgb.png": await makeGradientPng(40, 30),
      "rgba.png": await makeRgbaPng(40, 30),
      "grey.png": await makeGreyPng(40, 30),
      "grey-alpha.png": await makeGreyPng(40, 30, true),
      "palette.png": await makePalettePng(40, 30),
      "palette-trns.png": await makePalettePng(40, 30, true),
      "rgb16.png": await makeSixteenBitPng(40, 30),
      "rgb.jpg": await makeJpeg(gradientRgb(41, 31)),
      "subsampled.jpg": await fromRaw(gradientRgb(41, 31)).jpeg({ quality: 70 }).toBuffer(),
      "progressive.jpg": await fromRaw(gradientRgb(40, 30)).jpeg({ progressive: true }).toBuffer(),
      "grey.jpg": await fromRaw(greyRamp(40, 30)).jpeg().toBuffer(),
      "cmyk.jpg": await makeCmykJpeg(40, 30),
      "p3-profile.jpg": await fromRaw(gradientRgb(40, 30)).withIccProfile("p3").jpeg().toBuffer(),
      "rgba.webp": await makeLosslessWebp(gradientRgba(40, 30)),
      "lossy.webp": await fromRaw(gradientRgb(40, 30)).webp({ quality: 80 }).toBuffer(),
      "opaque.gif": await makeGif(quadrants),
      "transparent.gif": await sharp(transparentQuadrants, { raw: { width: 40, height: 30, channels: 4 } }).gif().toBuffer(),
      "animated.gif": await makeMultiFrame("gif", 12, 8, [[200, 10, 10], [10, 200, 10]]),
      "rgba.tif": await makeTiff(gradientRgba(40, 30)),
      "multipage.tif": await makeMultiFrame("tiff", 12, 8, [[200, 10, 10], [10, 200, 10]]),
      "orientation6.png": await makeExifRotatedPng(6),
      "orientation6.webp": await fromRaw(quadrantsRgb(64, 32)).withMetadata({ orientation: 6 }).webp({ lossless: true }).toBuffer(),
      "orientation6.tif": await fromRaw(quadrantsRgb(64, 32)).withMetadata({ orientation: 6 }).tiff().toBuffer(),
    };
    for (let orientation = 1; orientation <= 8; orientation++) {
      cases[`orientation${orientation}.jpg`] = await makeExifRotatedJpeg(orientation);
    }
    const subdir = join(dir, "pil");
    mkdirSync(subdir);
    const paths = Object.entries(cases).map(([name, bytes]) => file(join("pil", name), bytes));
    const run = spawnSync(python!, ["-c", PIL_REFERENCE_LOADER, ...paths], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const results = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { path: string; mode: string; width: number; height: number });
    assert.equal(results.length, paths.length);
    for (const reference of results) {
      const ours = await loadImage(reference.path);
      const label = `${reference.path} (PIL mode ${reference.mode})`;
      assert.deepEqual([ours.width, ours.height], [reference.width, reference.height], label);
      assert.equal(maxAbsDiff(ours.data, readFileSync(reference.path + ".pil.rgb")), 0, label);
    }
  });

  void it("16-bit greyscale: the one deliberate difference (PIL clips to 255, we keep the high byte)", { skip }, async () => {
    const path = file("grey16.png", await makeSixteenBitPng(40, 30, true));
    const run = spawnSync(python!, ["-c", PIL_REFERENCE_LOADER, path], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const pil = readFileSync(path + ".pil.rgb");
    const ours = await loadImage(path);
    for (let p = 0; p < 40 * 30; p++) {
      const sample = (p * 1237) % 65536;
      assert.deepEqual([...pil.subarray(p * 3, p * 3 + 3)], Array(3).fill(Math.min(sample, 255)), `PIL pixel ${p}`);
      assert.deepEqual([...ours.data.subarray(p * 3, p * 3 + 3)], Array(3).fill(sample >> 8), `our pixel ${p}`);
    }
  });
});

void describe("loadImage: inputs other than a file path", () => {
  void it("a data: URI with base64 PNG", async () => {
    const png = await makeGradientPng(8, 6);
    const image = await loadImage(`data:image/png;base64,${png.toString("base64")}`);
    assert.equal(image.name, "<data URI>");
    assertRgb(image, gradientRgb(8, 6).data);
  });

  void it("a percent-encoded SVG data: URI", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="#00ff00"/></svg>';
    const image = await loadImage(`data:image/svg+xml,${encodeURIComponent(svg)}`);
    assert.deepEqual(pixelAt(image, 1, 1), [0, 255, 0]);
  });

  void it("raw base64 (with line breaks) and a data: URI given as base64", async () => {
    const png = await makeGradientPng(8, 6);
    const wrapped = png.toString("base64").replace(/(.{60})/g, "$1\n");
    const image = await loadImage({ base64: wrapped, name: "pasted.png" });
    assert.equal(image.name, "pasted.png");
    assertRgb(image, gradientRgb(8, 6).data);
    assertRgb(await loadImage({ base64: `data:image/png;base64,${png.toString("base64")}` }), gradientRgb(8, 6).data);
  });

  void it("bytes as a Uint8Array view into a larger buffer, and as { bytes, name }", async () => {
    const png = await makeGradientPng(8, 6);
    const padded = new Uint8Array(png.length + 20);
    padded.set(png, 10);
    assertRgb(await loadImage(padded.subarray(10, 10 + png.length)), gradientRgb(8, 6).data);
    const named = await loadImage({ bytes: png, name: "clipboard" });
    assert.equal(named.name, "clipboard");
  });

  void it("{ path } works like a path string", async () => {
    const path = file("object-path.png", await makeGradientPng(8, 6));
    assert.equal((await loadImage({ path })).name, path);
  });

  void it("malformed data: URIs and base64 give invalid_data_uri", async () => {
    await rejectsWith(loadImage("data:image/png;base64"), "invalid_data_uri", "','");
    await rejectsWith(loadImage("data:image/png;base64,iVBOR$w0K"), "invalid_data_uri", "base64");
    await rejectsWith(loadImage("data:text/plain;base64,aGVsbG8="), "invalid_data_uri", "text/plain");
    await rejectsWith(loadImage("data:image/svg+xml,%3Csvg%ZZ"), "invalid_data_uri", "percent");
    await rejectsWith(loadImage({ base64: "not base64!" }), "invalid_data_uri", "<base64>");
    await rejectsWith(loadImage({ base64: "" }), "empty");
  });
});

void describe("loadImage: bad input gives a clear, typed error", () => {
  void it("missing file -> not_found, naming it", async () => {
    const path = join(dir, "no-such-image.png");
    await rejectsWith(loadImage(path), "not_found", path);
  });

  void it("directory -> not_a_file", async () => {
    await rejectsWith(loadImage(dir), "not_a_file", dir, "directory");
  });

  void it("FIFO -> not_a_file, without blocking on the open", { skip: process.platform === "win32" }, async (t) => {
    const fifo = join(dir, "pipe.png");
    const made = spawnSync("mkfifo", [fifo]);
    if (made.status !== 0) {
      t.skip("mkfifo is not available");
      return;
    }
    await rejectsWith(loadImage(fifo), "not_a_file", fifo);
  });

  void it("zero-byte file and empty bytes -> empty", async () => {
    const path = file("empty.png", new Uint8Array(0));
    await rejectsWith(loadImage(path), "empty", path);
    await rejectsWith(loadImage(new Uint8Array(0)), "empty", "<bytes>");
  });

  void it("bytes that are no image -> unsupported_format", async () => {
    const path = file("notes.png", "these are not the pixels you are looking for\n".repeat(20));
    await rejectsWith(loadImage(path), "unsupported_format", path);
  });

  void it("a PNG signature followed by garbage -> corrupt", async () => {
    const garbage = Buffer.concat([(await makeGradientPng(8, 8)).subarray(0, 8), Buffer.alloc(200, 0x5a)]);
    await rejectsWith(loadImage(file("garbage.png", garbage)), "corrupt", "garbage.png");
  });

  for (const [kind, make] of [
    ["PNG", () => makeGradientPng(200, 150)],
    ["JPEG", () => makeJpeg(gradientRgb(200, 150))],
    ["TIFF", () => makeTiff(gradientRgb(200, 150))],
    ["GIF", () => makeGif(quadrantsRgb(200, 150))],
    ["WebP", () => fromRaw(gradientRgb(200, 150)).webp().toBuffer()],
  ] as const) {
    void it(`truncated ${kind} -> corrupt (not a silently grey image), naming the file`, async () => {
      const whole = await make();
      const path = file(`truncated.${kind.toLowerCase()}`, whole.subarray(0, Math.floor(whole.length * 0.6)));
      await rejectsWith(loadImage(path), "corrupt", path);
    });
  }

  void it("a JPEG cut short that still ends in an EOI marker -> corrupt (libjpeg only warns)", async () => {
    const whole = await makeJpeg(gradientRgb(64, 64));
    const cut = Buffer.concat([whole.subarray(0, Math.floor(whole.length * 0.6)), Buffer.from([0xff, 0xd9])]);
    await rejectsWith(loadImage(cut), "corrupt", "premature end");
  });

  void it("a JPEG declaring 10000x10000 (within the limit) with 16x16 of data -> corrupt, fast", async () => {
    const started = performance.now();
    const bomb = withJpegFrameSize(await makeJpeg(gradientRgb(16, 16)), 10_000, 10_000);
    await rejectsWith(loadImage(bomb), "corrupt");
    assert.ok(performance.now() - started < 2000, "must stop at the first missing row");
  });

  void it("a JPEG with only a harmless warning (unknown JFIF revision) still loads", async () => {
    const pixels = gradientRgb(16, 12);
    const image = await loadImage(withJfifVersion(await makeJpeg(pixels), 3, 1));
    assertRgb(image, pixels.data, 3);
  });

  void it("a PNG declaring 100000x100000 -> too_large at once, giving size and limit", async () => {
    const started = performance.now();
    await rejectsWith(loadImage(file("bomb.png", makePngHeaderOnly(100_000, 100_000))), "too_large", "100000x100000", "100000000");
    assert.ok(performance.now() - started < 2000, "the size check must happen before decoding");
  });

  void it("a JPEG whose frame header declares 60000x60000 -> too_large", async () => {
    const bomb = withJpegFrameSize(await makeJpeg(gradientRgb(16, 16)), 60_000, 60_000);
    await rejectsWith(loadImage(bomb), "too_large", "60000x60000");
  });

  void it("an SVG declaring 100000x100000 -> too_large", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="10" height="10"/></svg>';
    await rejectsWith(loadImage(Buffer.from(svg)), "too_large", "100000x100000");
  });

  void it("maxPixels and maxInputBytes are configurable", async () => {
    const png = await makeGradientPng(40, 30);
    await rejectsWith(loadImage(png, { maxPixels: 1199 }), "too_large", "40x30", "1199");
    assert.equal((await loadImage(png, { maxPixels: 1200 })).width, 40);
    await rejectsWith(loadImage(png, { maxInputBytes: png.length - 1 }), "too_many_bytes", String(png.length));
    const path = file("bytes-limit.png", png);
    await rejectsWith(loadImage(path, { maxInputBytes: 10 }), "too_many_bytes", path);
    await assert.rejects(loadImage(png, { maxPixels: 0 }), RangeError);
  });
});

void describe("loadImage: SVG never reaches outside its own bytes", () => {
  void it("ignores <image> hrefs to local files (relative, absolute, file://) and http URLs", async () => {
    const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const redPath = file("secret-red.png", red);
    const hrefs = ["secret-red.png", redPath, `file://${redPath}`, "http://127.0.0.1:9/red.png"];
    for (const href of hrefs) {
      const svg =
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="8" height="8">' +
        `<rect width="8" height="8" fill="#0000ff"/><image href="${href}" xlink:href="${href}" width="8" height="8"/></svg>`;
      const svgPath = file("external.svg", svg);
      const image = await loadImage(svgPath);
      assert.deepEqual(pixelAt(image, 4, 4), [0, 0, 255], `href ${href} was followed`);
    }
  });

  void it("control: the same SVG opened by libvips from its path does read the local file (why we pass bytes)", async (t) => {
    const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    file("control-red.png", red);
    const svgPath = file(
      "control.svg",
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#0000ff"/>' +
        '<image href="control-red.png" width="8" height="8"/></svg>',
    );
    const raw = await sharp(svgPath).removeAlpha().raw().toBuffer();
    if (raw[0] !== 255) t.diagnostic("this libvips does not follow relative SVG hrefs even from a path");
    const ours = await loadImage(svgPath);
    assert.deepEqual(pixelAt(ours, 4, 4), [0, 0, 255]);
  });

  void it("does not expand external XML entities", async () => {
    const secret = file("secret.txt", "top secret");
    const svg =
      `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY leak SYSTEM "file://${secret}">]>` +
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><text y="8">&leak;</text></svg>';
    await rejectsWith(loadImage(Buffer.from(svg)), "corrupt", "leak");
  });
});
