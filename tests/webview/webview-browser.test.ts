/**
 * The points webview in a real browser (Debian's Chromium via playwright-core): the bundle built from
 * webview/ui, the shell from renderWebviewHtml with its CSP, and the messages the extension sends.
 * Marker positions are read back from screenshots, at two viewport sizes, after a resize and at 2x zoom.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import sharp from "sharp";
import { bundleWebview } from "../../webview/bundle";
import type { MolmoPoint } from "../../server/protocol/molmo-protocol";
import {
  browserSkipReason,
  closeTo,
  IMAGE_URI,
  launchChromium,
  makeFlatPng,
  openWebview,
  pixelAt,
  waitForExpression,
} from "./browser-harness";
import type { PageOptions, Rgb, WebviewAssets, WebviewPage } from "./browser-harness";
import { samplePoint, sampleResult } from "./sample-messages";

const IMAGE_SIZE = { width: 1200, height: 800 };
const BACKGROUND: Rgb = [32, 64, 96];
const MARKER: Rgb = [255, 0, 200];
const POINTS: MolmoPoint[] = [
  samplePoint(1, 25, 50, "save button", IMAGE_SIZE),
  samplePoint(2, 80, 20, "close button", IMAGE_SIZE),
];
const ANSWER_TEXT =
  'Here: <points x1="25.0" y1="50.0" x2="80.0" y2="20.0" alt="buttons">buttons</points>';

const skip = browserSkipReason();

void describe("points webview in Chromium", { skip }, () => {
  let browser: Browser;
  let assets: WebviewAssets;
  let bundleDir: string;

  before(async () => {
    bundleDir = mkdtempSync(path.join(os.tmpdir(), "molmo-webview-"));
    const bundle = await bundleWebview(bundleDir);
    assets = { ...bundle, imagePng: await makeFlatPng(IMAGE_SIZE.width, IMAGE_SIZE.height, BACKGROUND) };
    browser = await launchChromium();
  });

  after(async () => {
    // Closing the browser also ends every page a failed test left open.
    await browser?.close();
    rmSync(bundleDir, { recursive: true, force: true });
  });

  function open(options: PageOptions): Promise<WebviewPage> {
    return openWebview(browser, assets, options);
  }

  async function finish(view: WebviewPage): Promise<void> {
    assert.deepEqual(await view.problems(), []);
    await view.close();
  }

  async function showAnswer(view: WebviewPage): Promise<void> {
    await view.send({ type: "showImage", uri: IMAGE_URI, fileName: "screenshot.png" });
    await waitForExpression(view.page, "document.getElementById('image').complete && document.getElementById('image').naturalWidth > 0");
    await view.send({ type: "answerDone", requestId: "host-1", result: sampleResult(ANSWER_TEXT, POINTS, IMAGE_SIZE) });
    await view.page.locator(".marker").nth(POINTS.length - 1).waitFor();
  }

  /** Checks from a screenshot that each point's marker colour is on its pixel, and the image around it. */
  async function assertMarkersOnTheirPixels(view: WebviewPage, scale: number): Promise<void> {
    const box = await view.page.locator("#image").boundingBox();
    assert.ok(box !== null, "the image is laid out");
    const screenshot = await view.page.screenshot();
    for (const point of POINTS) {
      const x = (box.x + (point.xPercent / 100) * box.width) * scale;
      const y = (box.y + (point.yPercent / 100) * box.height) * scale;
      const centre = await pixelAt(screenshot, x, y);
      assert.ok(closeTo(centre, MARKER), `point ${point.index}: marker colour expected at (${x}, ${y}), got ${centre.join(",")}`);
      // 14 CSS px left of the centre is past the 8 px marker, its ring and shadow: the image shows there.
      const beside = await pixelAt(screenshot, x - 14 * scale, y);
      assert.ok(closeTo(beside, BACKGROUND), `point ${point.index}: image expected beside the marker, got ${beside.join(",")}`);
    }
  }

  void test("markers sit on their pixels at two panel sizes, after a resize and at 2x zoom", async () => {
    const view = await open({ width: 900, height: 700 });
    await showAnswer(view);
    await assertMarkersOnTheirPixels(view, 1);
    const wide = await view.page.locator("#image").boundingBox();

    await view.page.setViewportSize({ width: 480, height: 640 });
    const narrow = await view.page.locator("#image").boundingBox();
    assert.ok(wide !== null && narrow !== null && narrow.width < wide.width - 100, "the image shrank with the panel");
    await assertMarkersOnTheirPixels(view, 1);
    await finish(view);

    const zoomed = await open({ width: 700, height: 600, deviceScaleFactor: 2 });
    await showAnswer(zoomed);
    await assertMarkersOnTheirPixels(zoomed, 2);
    await finish(zoomed);
  });

  void test("the answer streams in, and cancel sends cancel for the running question", async () => {
    const view = await open({ width: 800, height: 700 });
    await view.send({ type: "showImage", uri: IMAGE_URI, fileName: "screenshot.png" });
    await view.page.selectOption("#task", "point");
    await view.page.fill("#question", "the buttons");
    await view.page.click("#ask");
    const ask = await view.waitForPosted("ask");
    assert.equal(ask.task, "point");
    assert.equal(ask.question, "the buttons");
    assert.ok(await view.page.isEnabled("#cancel"), "Cancel is available while the question runs");

    const { requestId } = ask;
    await view.send({ type: "answerStarted", requestId, task: "point", question: "the buttons" });
    await view.send({ type: "answerDelta", requestId, textDelta: "Here are " });
    await view.send({ type: "answerDelta", requestId, textDelta: 'the <point x="25.0" y="5' });
    assert.equal(await view.page.textContent("#answer"), "Here are the ", "an unfinished point tag is held back");
    await view.send({
      type: "answerDelta",
      requestId,
      textDelta: '0.0" alt="save">save</point> and',
      points: [POINTS[0]],
    });
    assert.equal(await view.page.textContent("#answer"), "Here are the save1 and");
    assert.equal(await view.page.locator(".marker").count(), 1, "the streamed point is drawn at once");
    assert.equal(await view.page.textContent("#count-badge"), "1");

    await view.page.keyboard.press("Escape");
    const cancel = await view.waitForPosted("cancel");
    assert.deepEqual(cancel, { type: "cancel", requestId });
    assert.equal(await view.page.textContent("#answer-status"), "Cancelling…");
    assert.ok(!(await view.page.isEnabled("#cancel")), "Cancel is not sent twice");
    await view.send({ type: "answerCancelled", requestId });
    assert.equal(await view.page.textContent("#answer-status"), "Cancelled.");
    assert.ok(await view.page.isEnabled("#ask"), "a new question can be asked");
    assert.equal(await view.page.textContent("#answer"), "Here are the save1 and", "what streamed stays");
    await finish(view);
  });

  void test("Cancel button, copy JSON and save PNG send the right messages", async () => {
    const view = await open({ width: 800, height: 700 });
    await view.send({ type: "showImage", uri: IMAGE_URI, fileName: "screenshot.png" });
    await view.page.fill("#question", "What is this?");
    await view.page.press("#question", "Enter");
    const ask = await view.waitForPosted("ask");
    assert.deepEqual(ask, { type: "ask", requestId: ask.requestId, task: "ask", question: "What is this?" });
    await view.page.click("#cancel");
    assert.deepEqual(await view.waitForPosted("cancel"), { type: "cancel", requestId: ask.requestId });
    await view.send({ type: "answerCancelled", requestId: ask.requestId });

    await showAnswer(view);
    assert.equal(await view.page.textContent("#count-badge"), "2");
    assert.equal(await view.page.textContent("#answer-status"), "32 tokens in 1.2 s · tiny-molmo on cpu");
    await view.page.click("#copy-points");
    const copy = await view.waitForPosted("copyPoints");
    assert.equal(copy.count, 2);
    assert.deepEqual(JSON.parse(copy.json), POINTS);

    await view.page.click("#save-png");
    const save = await view.waitForPosted("saveAnnotatedPng");
    assert.equal(save.suggestedName, "screenshot-molmo.png");
    const png = Buffer.from(save.pngBase64, "base64");
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", IMAGE_SIZE.width, IMAGE_SIZE.height]);
    for (const point of POINTS) {
      assert.ok(closeTo(await pixelAt(png, point.x, point.y), MARKER), `point ${point.index} is drawn in the saved PNG`);
    }
    assert.ok(closeTo(await pixelAt(png, 600, 700), BACKGROUND), "the image is kept where there is no point");
    await finish(view);
  });

  void test("malformed and stale messages are ignored with a logged reason", async () => {
    const view = await open({ width: 800, height: 600 });
    await view.send({ type: "showImage", uri: IMAGE_URI, fileName: "screenshot.png" });
    await view.send("not an object");
    await view.send({ type: "answerDelta", textDelta: "no request id" });
    await view.send({ type: "launchMissiles" });
    await view.send({ type: "answerDone", requestId: "r1", result: { text: "x", points: [{ index: 1, x: "12" }] } });
    assert.equal(view.warnings.length, 4, view.warnings.join("\n"));
    assert.match(view.warnings[1], /answerDelta\.requestId/);
    assert.match(view.warnings[2], /unknown message type "launchMissiles"/);
    assert.match(view.warnings[3], /x is not a finite number/);

    // A delta of a question that is not the current one changes nothing.
    await view.send({ type: "answerStarted", requestId: "r2", task: "ask", question: "q" });
    await view.send({ type: "answerDelta", requestId: "old", textDelta: "stale text" });
    await view.send({ type: "answerDelta", requestId: "r2", textDelta: "fresh text" });
    assert.equal(await view.page.textContent("#answer"), "fresh text");
    await view.send({ type: "answerFailed", requestId: "r2", message: "Molmo is busy", code: "busy" });
    assert.equal(await view.page.textContent("#answer-status"), "Failed: Molmo is busy (busy)");
    await view.send({ type: "engineStatus", state: "ready", model: "tiny-molmo", ep: "cpu" });
    assert.equal(await view.page.textContent("#engine-status"), "tiny-molmo · cpu · ready");
    await finish(view);
  });

  void test("keyboard focus on a point shows its label, and the points list leads to it", async () => {
    const view = await open({ width: 900, height: 700 });
    await showAnswer(view);
    assert.ok(!(await view.page.isVisible("#marker-label-1")), "labels are hidden until asked for");
    await view.page.keyboard.press("Tab");
    assert.equal(await view.page.evaluate("document.activeElement.id"), "marker-1");
    assert.ok(await view.page.isVisible("#marker-label-1"));
    assert.equal(await view.page.textContent("#marker-label-1"), "save button");
    assert.equal(await view.page.getAttribute("#marker-1", "aria-describedby"), "marker-label-1");
    await view.page.keyboard.press("Tab");
    assert.ok(await view.page.isVisible("#marker-label-2"));
    assert.ok(!(await view.page.isVisible("#marker-label-1")));

    await view.page.hover("#marker-1");
    assert.ok(await view.page.isVisible("#marker-label-1"), "hovering shows the label too");

    const item = view.page.locator(".point-link").first();
    assert.equal(await item.textContent(), "1save button300, 400 px");
    await item.focus();
    await view.page.keyboard.press("Enter");
    assert.equal(await view.page.evaluate("document.activeElement.id"), "marker-1");
    await finish(view);
  });

  void test("the answer survives the webview being reloaded (hidden and shown)", async () => {
    const view = await open({ width: 800, height: 700 });
    await showAnswer(view);
    await view.page.reload();
    await view.waitForPosted("ready");
    await view.page.locator(".marker").nth(1).waitFor();
    assert.equal(await view.page.textContent("#answer"), "Here: buttons1,2");
    // The host answers `ready` with the same image: the restored answer stays.
    await view.send({ type: "showImage", uri: IMAGE_URI, fileName: "screenshot.png" });
    assert.equal(await view.page.locator(".marker").count(), 2);
    // ...and replays the answer (extension/panel/panel-controller.ts): the same answer again, not a second one.
    await view.send({ type: "answerStarted", requestId: "host-1", task: "point", question: "" });
    await view.send({ type: "answerDone", requestId: "host-1", result: sampleResult(ANSWER_TEXT, POINTS, IMAGE_SIZE) });
    assert.equal(await view.page.locator(".marker").count(), 2);
    assert.equal(await view.page.textContent("#answer"), "Here: buttons1,2");
    await view.send({ type: "showImage", uri: `${IMAGE_URI}?other`, fileName: "other.png" });
    assert.equal(await view.page.locator(".marker").count(), 0, "another image clears the points");
    await finish(view);
  });

  void test("a pasted or dropped image is sent to the host", async () => {
    const view = await open({ width: 800, height: 600 });
    const png = await makeFlatPng(4, 3, [255, 0, 0]);
    const makeTransfer = `(() => {
      const bytes = Uint8Array.from(atob(${JSON.stringify(png.toString("base64"))}), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], "red.png", { type: "image/png" }));
      return transfer;
    })()`;
    await view.page.evaluate(`document.getElementById("stage").dispatchEvent(
      new DragEvent("drop", { dataTransfer: ${makeTransfer}, bubbles: true, cancelable: true }))`);
    const dropped = await view.waitForPosted("imageDropped");
    assert.deepEqual(dropped, { type: "imageDropped", base64: png.toString("base64"), mime: "image/png", name: "red.png" });

    await view.page.evaluate(`document.dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: ${makeTransfer}, bubbles: true, cancelable: true }))`);
    await waitForExpression(view.page, "window.__molmoPosted.filter((m) => m.type === 'imageDropped').length === 2");

    await view.page.evaluate(`document.getElementById("stage").dispatchEvent(new DragEvent("drop", {
      dataTransfer: (() => { const t = new DataTransfer(); t.items.add(new File(["x"], "notes.svg", { type: "image/svg+xml" })); return t; })(),
      bubbles: true, cancelable: true }))`);
    await view.page.locator("#notice").waitFor();
    assert.match((await view.page.textContent("#notice")) ?? "", /not an image Molmo can read/);
    await finish(view);
  });
});
