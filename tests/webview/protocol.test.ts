import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  base64DecodedLength,
  MAX_DROPPED_IMAGE_BYTES,
  parseHostToViewMessage,
  parseViewToHostMessage,
} from "../../webview/protocol";
import { samplePoint, sampleResult } from "./sample-messages";

const SIZE = { width: 640, height: 480 };

function reasonOf(result: { ok: boolean; reason?: string }): string | undefined {
  return result.ok ? undefined : result.reason;
}

void describe("parseHostToViewMessage", () => {
  void test("accepts every message the host sends", () => {
    const point = samplePoint(1, 50, 50, "dog", SIZE);
    const messages = [
      { type: "showImage", uri: "https://file+.vscode-resource.vscode-cdn.net/a.png", fileName: "a.png" },
      { type: "showImage", uri: "data:image/png;base64,AAAA", fileName: "pasted.png", width: 640, height: 480 },
      { type: "answerStarted", requestId: "r1", task: "point", question: "dogs" },
      { type: "answerDelta", requestId: "r1", textDelta: "<point" },
      { type: "answerDelta", requestId: "r1", textDelta: ">dog</point>", points: [point] },
      { type: "answerDone", requestId: "r1", result: sampleResult("x", [point], SIZE) },
      { type: "answerFailed", requestId: "r1", message: "Molmo is busy", code: "busy" },
      { type: "answerCancelled", requestId: "r1" },
      { type: "engineStatus", state: "ready", model: "tiny", ep: "cpu" },
      { type: "notice", level: "info", message: "Saved." },
    ];
    for (const message of messages) {
      const parsed = parseHostToViewMessage(message);
      assert.ok(parsed.ok, `${message.type}: ${reasonOf(parsed)}`);
      assert.equal(parsed.message, message, "the message itself is passed on");
    }
  });

  void test("refuses malformed messages with a reason naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [["showImage"], /not an object/],
      [{ type: "explode" }, /unknown message type "explode"/],
      [{ type: "showImage", fileName: "a.png" }, /showImage\.uri/],
      [{ type: "showImage", uri: "x", fileName: "a.png", width: -3 }, /showImage\.width/],
      [{ type: "answerStarted", requestId: "r", task: "dance", question: "" }, /task/],
      [{ type: "answerDelta", requestId: "r", textDelta: 5 }, /textDelta/],
      [{ type: "answerDelta", requestId: "r", textDelta: "", points: [{ index: 1, x: NaN, y: 0, xPercent: 0, yPercent: 0, label: "" }] }, /x is not a finite number/],
      [{ type: "answerDone", requestId: "r", result: { ...sampleResult("x", [], SIZE), image: {} } }, /result\.image/],
      [{ type: "answerDone", requestId: "r", result: { ...sampleResult("x", [], SIZE), timings: undefined } }, /timings/],
      [{ type: "answerFailed", requestId: "r", message: "m" }, /code/],
      [{ type: "engineStatus", state: "sleeping" }, /engine state/],
      [{ type: "notice", level: "warning", message: "m" }, /level/],
    ];
    for (const [message, reason] of cases) {
      const parsed = parseHostToViewMessage(message);
      assert.equal(parsed.ok, false, JSON.stringify(message));
      assert.match(reasonOf(parsed) ?? "", reason);
    }
  });
});

void describe("parseViewToHostMessage", () => {
  void test("accepts every message the webview sends", () => {
    const messages = [
      { type: "ready", protocolVersion: 1 },
      { type: "ask", requestId: "view-1", task: "caption", question: "" },
      { type: "cancel", requestId: "view-1" },
      { type: "copyPoints", json: "[]", count: 0 },
      { type: "saveAnnotatedPng", pngBase64: "iVBORw0KGgo=", suggestedName: "a-molmo.png" },
      { type: "imageDropped", base64: "AAAA", mime: "image/jpeg", name: "photo.jpg" },
    ];
    for (const message of messages) {
      const parsed = parseViewToHostMessage(message);
      assert.ok(parsed.ok, `${message.type}: ${reasonOf(parsed)}`);
    }
  });

  void test("refuses what the host must not act on", () => {
    const tooBig = "A".repeat(Math.ceil((MAX_DROPPED_IMAGE_BYTES + 3) / 3) * 4);
    const cases: [unknown, RegExp][] = [
      [{ type: "ask", requestId: "", task: "ask", question: "q" }, /requestId/],
      [{ type: "ask", requestId: "r", task: "ask", question: "q".repeat(5000) }, /longer than/],
      [{ type: "cancel" }, /requestId/],
      [{ type: "copyPoints", json: "[]", count: -1 }, /count/],
      [{ type: "saveAnnotatedPng", pngBase64: "not base64!", suggestedName: "a.png" }, /not base64/],
      [{ type: "imageDropped", base64: "AAAA", mime: "image/svg+xml", name: "a.svg" }, /not an accepted image type/],
      [{ type: "imageDropped", base64: tooBig, mime: "image/png", name: "a.png" }, /larger than/],
      [{ type: "openFile", path: "/etc/passwd" }, /unknown message type/],
    ];
    for (const [message, reason] of cases) {
      const parsed = parseViewToHostMessage(message);
      assert.equal(parsed.ok, false, JSON.stringify(message).slice(0, 80));
      assert.match(reasonOf(parsed) ?? "", reason);
    }
  });

  void test("base64DecodedLength matches Buffer's decoding", () => {
    for (const length of [0, 1, 2, 3, 4, 5, 100]) {
      const encoded = Buffer.alloc(length, 7).toString("base64");
      assert.equal(base64DecodedLength(encoded), length);
    }
  });
});
