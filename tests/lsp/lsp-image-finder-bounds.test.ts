/**
 * The image finder runs on the server's only thread at every edit, hover and code action, so a document must
 * not be able to make it take seconds. Unclosed `![`, `![a](` or titles repeated through one long paragraph made
 * each start scan to the paragraph's end: quadratic, 8 to 18 s for 100 kB, during which the server answered
 * nothing. The scans are bounded now (bracket text and titles in length, destinations in parenthesis depth,
 * as cmark bounds them) while ordinary images, long alt text included, are still found.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findImageReferences } from "../../server/lsp/image-references";

const IMAGE = "\n\n![the real one](real.png)\n";

function timed(text: string): { ms: number; targets: string[] } {
  const started = performance.now();
  const targets = findImageReferences(text, "markdown").map((image) => image.target);
  return { ms: performance.now() - started, targets };
}

void describe("image finder bounds", () => {
  for (const [name, junk] of [
    ["unclosed ![", "![".repeat(50_000)],
    ["unclosed ![a](", "![a](".repeat(20_000)],
    ["unclosed titles", '![a](b.png "'.repeat(10_000)],
  ] as const) {
    void it(`scans 100 kB of ${name} in well under a second and still finds the image after it`, () => {
      const { ms, targets } = timed(junk + IMAGE);
      assert.ok(ms < 1000, `${Math.round(ms)} ms`);
      assert.deepEqual(targets.slice(-1), ["real.png"]);
    });
  }

  void it("still finds images with long alt text, nested brackets and balanced parentheses", () => {
    const alt = "word ".repeat(150);
    const text = `![${alt}](a.png)\n\n![a [nested] b](b.png)\n\n![x](c_(1)_(2).png "a title")\n`;
    assert.deepEqual(timed(text).targets, ["a.png", "b.png", "c_(1)_(2).png"]);
  });
});
