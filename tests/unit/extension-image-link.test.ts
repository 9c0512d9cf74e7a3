/**
 * The image link under the cursor in Markdown (extension/commands/image-link.ts), which decides what the
 * editor context menu's "Ask Molmo about Image…" is about.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { collectReferenceDefinitions, imageLinkAt, isDataTarget, isRemoteTarget } from "../../extension/commands/image-link";

void test("inline images: target, alt and span; the cursor must be inside the link", () => {
  const line = 'See ![the login form](images/login%20form.png "Login") and text';
  const link = imageLinkAt(line, line.indexOf("login form]"));
  assert.deepEqual(link, { target: "images/login form.png", alt: "the login form", start: 4, end: line.indexOf(" and") });
  assert.equal(imageLinkAt(line, 2), undefined, "before the link");
  assert.equal(imageLinkAt(line, line.length - 1), undefined, "after the link");
  assert.equal(imageLinkAt("[a link](x.png)", 3), undefined, "a link is not an image");
});

void test("angle-bracket targets, queries, fragments, escapes and two images on one line", () => {
  const line = "![a \\] b](<my shots/one.png>) ![](two.png?raw=1#x)";
  assert.deepEqual(imageLinkAt(line, 3), { target: "my shots/one.png", alt: "a ] b", start: 0, end: line.indexOf(" ![](") });
  const second = imageLinkAt(line, line.length - 2);
  assert.equal(second?.target, "two.png");
  assert.equal(second?.alt, "");
});

void test("reference images resolve through the document's definitions", () => {
  const lines = ["![Diagram][arch]", "![logo]", "![x][]", "", "[Arch]: ./docs/arch.png", "[logo]: <logo file.svg>", "[arch]: ignored.png"];
  const definitions = collectReferenceDefinitions(lines);
  const lookup = (label: string): string | undefined => definitions.get(label);
  assert.equal(definitions.get("arch"), "./docs/arch.png", "the first definition wins, labels are case-insensitive");
  assert.equal(imageLinkAt(lines[0], 4, lookup)?.target, "./docs/arch.png");
  assert.equal(imageLinkAt(lines[1], 2, lookup)?.target, "logo file.svg");
  assert.equal(imageLinkAt(lines[2], 2, lookup), undefined, "no definition for x");
});

void test("HTML <img> tags", () => {
  const line = '<p><img alt="Chart &amp; axes" src="plots/chart.png" width=300></p>';
  const link = imageLinkAt(line, line.indexOf("src"));
  assert.equal(link?.target, "plots/chart.png");
  assert.equal(link?.alt, "Chart & axes");
  assert.equal(imageLinkAt("<img src=bare.png>", 5)?.target, "bare.png");
  assert.equal(imageLinkAt("<img alt='no source'>", 5), undefined);
});

void test("data and remote targets are recognised and kept whole", () => {
  const data = "![dot](data:image/png;base64,iVBORw0KGgo=)";
  const link = imageLinkAt(data, 3);
  assert.equal(link?.target, "data:image/png;base64,iVBORw0KGgo=");
  assert.equal(isDataTarget(link.target), true);
  const remote = imageLinkAt("![r](https://example.com/a.png?x=1)", 3);
  assert.equal(remote?.target, "https://example.com/a.png?x=1");
  assert.equal(isRemoteTarget(remote.target), true);
  assert.equal(isRemoteTarget("images/a.png"), false);
  // A stray % is not an escape.
  assert.equal(imageLinkAt("![p](100%.png)", 2)?.target, "100%.png");
});
