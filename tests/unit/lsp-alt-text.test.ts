/**
 * Alt text from a model answer, and the edit that writes it: the result must read as the same text after
 * Markdown or HTML parsing, whatever characters the model produced.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HostError } from "../../server/host/host-errors";
import { altTextEdit, cleanAltText, escapeHtmlAttribute, escapeMarkdownAlt, MAX_ALT_TEXT_CHARS } from "../../server/lsp/alt-text";
import { findImageReferences } from "../../server/lsp/image-references";
import { decodeHtmlEntities } from "../../server/lsp/html-tags";

function applyEdit(text: string, edit: { span: { start: number; end: number }; newText: string }): string {
  return text.slice(0, edit.span.start) + edit.newText + text.slice(edit.span.end);
}

void describe("cleanAltText", () => {
  void it("drops tags, prefixes, quotes and line breaks", () => {
    assert.equal(cleanAltText('  Alt text: "A red <point x="1" y="2">button</point>\non a form."  '), "A red button on a form.");
    assert.equal(cleanAltText("Description: a chart"), "a chart");
  });

  void it("keeps the first sentence of a long answer, and cuts a long sentence at a word with an ellipsis", () => {
    const long = `A dashboard with three charts. ${"More detail follows here. ".repeat(10)}`;
    assert.equal(cleanAltText(long), "A dashboard with three charts.");
    const run = "word ".repeat(60);
    const cut = cleanAltText(run);
    assert.ok(cut.length <= MAX_ALT_TEXT_CHARS + 1, cut);
    assert.ok(cut.endsWith("word…"), cut);
  });

  void it("refuses an answer with nothing left", () => {
    assert.throws(() => cleanAltText(' <point x="1" y="1"></point> "" '), (error: unknown) => error instanceof HostError && error.code === "engine_failed");
  });
});

void describe("escaping and edits", () => {
  const tricky = 'A [link](x) *bold* `code` <b>&amp; "q" \'s\' \\ ! done';

  void it("escapes Markdown alt text so that it parses back as the same image with the same alt", () => {
    const text = "Before ![](shot.png) after";
    const [image] = findImageReferences(text, "markdown");
    const edited = applyEdit(text, altTextEdit(image, tricky));
    const [again] = findImageReferences(edited, "markdown");
    assert.equal(again.target, "shot.png");
    assert.equal(again.alt, escapeMarkdownAlt(tricky));
    // Undoing the backslash escapes gives back the text exactly.
    assert.equal(again.alt?.replace(/\\(.)/g, "$1"), tricky);
    assert.ok(edited.endsWith(" after"));
  });

  void it("fills empty, bare and missing HTML alt attributes, and the value decodes back to the text", () => {
    const text = `<img alt="" src="a.png"> <img src='b.png' alt=''> <img alt src="c.png"> <img src="d.png">`;
    const images = findImageReferences(text, "html");
    assert.deepEqual(images.map((image) => image.altForm), ["html-double-quoted", "html-single-quoted", "html-bare", "html-missing"]);
    // Apply from the end so that earlier offsets stay valid.
    let edited = text;
    for (const image of [...images].reverse()) {
      edited = applyEdit(edited, altTextEdit(image, tricky));
    }
    const again = findImageReferences(edited, "html");
    assert.deepEqual(again.map((image) => image.target), ["a.png", "b.png", "c.png", "d.png"]);
    for (const image of again) {
      assert.equal(image.alt, tricky, `${image.target}: ${edited}`);
    }
  });

  void it("replaces an unquoted value with a quoted one", () => {
    const text = "<img src=a.png alt=x>";
    const [image] = findImageReferences(text, "html");
    const edited = applyEdit(text, altTextEdit(image, 'two "words"'));
    assert.equal(edited, '<img src=a.png alt="two &quot;words&quot;">');
  });

  void it("escapes every HTML-special character", () => {
    assert.equal(escapeHtmlAttribute(`<&>"'`), "&lt;&amp;&gt;&quot;&#39;");
    assert.equal(decodeHtmlEntities(escapeHtmlAttribute(tricky)), tricky);
  });
});
