/**
 * The image finder of the LSP server: every syntax the hover and the alt-text action must see, what they
 * must not see (code, comments), and how targets are decoded.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findImageReferences, imageAt, lacksAltText, normaliseTarget, type ImageReference } from "../../server/lsp/image-references";

function slice(text: string, span: { start: number; end: number }): string {
  return text.slice(span.start, span.end);
}

function only(text: string, format: "markdown" | "html" = "markdown"): ImageReference {
  const found = findImageReferences(text, format);
  assert.equal(found.length, 1, `expected one image in ${JSON.stringify(text)}, found ${JSON.stringify(found)}`);
  return found[0];
}

void describe("findImageReferences: Markdown", () => {
  void it("finds an inline image with a title and gives the spans of the element, alt and target", () => {
    const text = 'Intro ![A cat on a mat](images/cat.png "The cat") after';
    const image = only(text);
    assert.equal(image.syntax, "markdown-inline");
    assert.equal(slice(text, image.span), '![A cat on a mat](images/cat.png "The cat")');
    assert.equal(image.alt, "A cat on a mat");
    assert.equal(slice(text, image.altSpan), "A cat on a mat");
    assert.equal(image.altForm, "markdown");
    assert.equal(image.target, "images/cat.png");
    assert.equal(slice(text, image.targetSpan), "images/cat.png");
  });

  void it("reads angle-bracketed targets with spaces, single-quoted and parenthesised titles, and balanced parentheses", () => {
    assert.equal(only("![x](<my shots/one two.png>)").target, "my shots/one two.png");
    assert.equal(only("![x](a.png 'title')").target, "a.png");
    assert.equal(only("![x](a.png (title))").target, "a.png");
    assert.equal(only("![x](shot_(1).png)").target, "shot_(1).png");
    assert.equal(only("![x](  spaced.png  )").target, "spaced.png");
  });

  void it("percent-decodes local paths and strips their query and fragment, but keeps URLs and data URIs whole", () => {
    assert.equal(only("![x](my%20shot%C3%A9.png?v=2#dark)").target, "my shot\u00e9.png");
    assert.equal(only("![x](https://example.com/a.png?size=2)").target, "https://example.com/a.png?size=2");
    assert.equal(only("![x](data:image/png;base64,AAAA)").target, "data:image/png;base64,AAAA");
    assert.equal(only("![x](file:///tmp/a%20b.png#frag)").target, "file:///tmp/a%20b.png");
    assert.equal(only("![x](100%zz.png)").target, "100%zz.png", "a malformed escape stays as written");
    assert.equal(only("![x](a\\_b.png)").target, "a_b.png", "Markdown backslash escapes are resolved");
  });

  void it("finds empty alt text with an empty span between the brackets, and nested brackets in alt", () => {
    const text = "See ![](diagram.svg).";
    const image = only(text);
    assert.equal(image.alt, "");
    assert.deepEqual(image.altSpan, { start: 6, end: 6 });
    assert.ok(lacksAltText(image));
    const nested = only("![a [nested] alt](x.png)");
    assert.equal(nested.alt, "a [nested] alt");
    assert.ok(!lacksAltText(nested));
  });

  void it("resolves full, collapsed and shortcut reference-style images through their definitions, case-insensitively", () => {
    const text = [
      "![Full][Logo] and ![Shot][] and ![shot] and ![missing][nowhere]",
      "",
      "[logo]: ./img/logo.png 'Logo'",
      "   [SHOT]: <img/the shot.png>",
    ].join("\n");
    const found = findImageReferences(text, "markdown");
    assert.deepEqual(found.map((image) => [image.syntax, image.alt, image.target, image.label]), [
      ["markdown-reference", "Full", "./img/logo.png", "Logo"],
      ["markdown-reference", "Shot", "img/the shot.png", "Shot"],
      ["markdown-reference", "shot", "img/the shot.png", "shot"],
    ]);
    assert.equal(slice(text, found[0].span), "![Full][Logo]");
    assert.equal(slice(text, found[0].targetSpan), "./img/logo.png");
    assert.equal(slice(text, found[1].targetSpan), "img/the shot.png");
  });

  void it("ignores images in fenced code blocks, inline code spans and HTML comments, and escaped ones", () => {
    const text = [
      "```md",
      "![in fence](a.png)",
      "```",
      "~~~~",
      "![in tilde fence](b.png)",
      "```",
      "~~~~",
      "Inline `![code](c.png)` and ``![two ` ticks](d.png)`` and \\![escaped](e.png)",
      "<!-- ![comment](f.png) <img src='g.png'> -->",
      "- item",
      "  ```",
      "  ![in list fence](h.png)",
      "  ```",
      "> ```",
      "> ![in quote fence](i.png)",
      "> ```",
      "![real](real.png)",
    ].join("\n");
    assert.deepEqual(findImageReferences(text, "markdown").map((image) => image.target), ["real.png"]);
  });

  void it("treats an unclosed fence as running to the end, and an unmatched backtick as text", () => {
    assert.deepEqual(findImageReferences("A ` tick ![x](a.png)", "markdown").map((image) => image.target), ["a.png"]);
    assert.deepEqual(findImageReferences("```\n![x](a.png)\n", "markdown"), []);
  });

  void it("leaves out images with an empty target and malformed syntax", () => {
    assert.deepEqual(findImageReferences("![x]() ![y](<>) ![z](a.png \"open title) ![w](a b.png)", "markdown"), []);
  });

  void it("finds <img> tags written as inline HTML in Markdown", () => {
    const text = 'Text <img src="shots/a.png" width=40> more';
    const image = only(text);
    assert.equal(image.syntax, "html");
    assert.equal(image.alt, undefined);
    assert.equal(image.altForm, "html-missing");
    assert.equal(slice(text, image.span), '<img src="shots/a.png" width=40>');
  });
});

void describe("findImageReferences: HTML", () => {
  void it("reads double-quoted, single-quoted and unquoted attributes in any case and order, decoding entities", () => {
    const text = `<p><IMG ALT='Chart &amp; legend' SRC="charts/q1&amp;q2.png?x=1"/><img src=plain.png alt=bare></p>`;
    const [first, second] = findImageReferences(text, "html");
    assert.equal(first.alt, "Chart & legend");
    assert.equal(first.altForm, "html-single-quoted");
    assert.equal(slice(text, first.altSpan), "Chart &amp; legend");
    assert.equal(first.target, "charts/q1&q2.png");
    assert.equal(second.target, "plain.png");
    assert.equal(second.altForm, "html-unquoted");
    assert.equal(second.alt, "bare");
  });

  void it("reports a missing alt attribute with an insertion point after the tag name, and an empty one with its empty span", () => {
    const text = '<img src="a.png">\n<img alt="" src="b.png">\n<img alt src="c.png">';
    const [missing, empty, bare] = findImageReferences(text, "html");
    assert.equal(missing.altForm, "html-missing");
    assert.deepEqual(missing.altSpan, { start: 4, end: 4 });
    assert.equal(empty.alt, "");
    assert.equal(empty.altForm, "html-double-quoted");
    assert.equal(slice(text, { start: empty.altSpan.start - 1, end: empty.altSpan.end + 1 }), '""');
    assert.equal(bare.alt, "");
    assert.equal(bare.altForm, "html-bare");
    assert.equal(slice(text, { start: bare.altSpan.start - 3, end: bare.altSpan.end + 1 }), "alt ");
    assert.ok([missing, empty, bare].every(lacksAltText));
  });

  void it("ignores comments, scripts, styles, tags without src and unfinished tags, and Markdown syntax in HTML files", () => {
    const text = [
      "<!-- <img src='a.png'> -->",
      "<script>const s = '<img src=\"b.png\">';</script>",
      "<style>/* <img src=c.png> */</style>",
      "<img alt='no source'>",
      "![markdown](d.png)",
      "<img src='e.png' alt='ok'>",
      "<img src='unfinished.png'",
    ].join("\n");
    assert.deepEqual(findImageReferences(text, "html").map((image) => image.target), ["e.png"]);
  });

  void it("is not fooled by '<imgx' or an 'img' inside other tags", () => {
    assert.deepEqual(findImageReferences("<imgx src='a.png'><picture src='b.png'>", "html"), []);
  });
});

void describe("imageAt and normaliseTarget", () => {
  void it("finds the image under an offset, its first and last characters included", () => {
    const text = "ab ![x](a.png) cd";
    const images = findImageReferences(text, "markdown");
    assert.equal(imageAt(images, 2), undefined);
    assert.equal(imageAt(images, 3)?.target, "a.png");
    assert.equal(imageAt(images, 14)?.target, "a.png");
    assert.equal(imageAt(images, 15), undefined);
  });

  void it("normalises targets as documented", () => {
    assert.equal(normaliseTarget(" ./a%23b.png "), "./a#b.png");
    assert.equal(normaliseTarget("HTTP://x/y.png#z"), "HTTP://x/y.png#z");
  });
});
