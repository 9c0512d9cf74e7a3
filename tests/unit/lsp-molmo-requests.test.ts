/**
 * The pure parts of the molmo/* request handlers: parameter checks, the error answers' codes, and the
 * coalescing of streamed partial results.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HostError } from "../../server/host/host-errors";
import { PartialResultStream, parseAskParams } from "../../server/lsp/molmo-requests";
import { toResponseError } from "../../server/lsp/response-errors";
import type { MolmoAskPartialResult, MolmoPoint } from "../../server/protocol/molmo-protocol";

function badRequest(raw: unknown, message: RegExp): void {
  assert.throws(() => parseAskParams(raw), (error: unknown) => error instanceof HostError && error.code === "bad_request" && message.test(error.message));
}

const POINT: MolmoPoint = { index: 1, x: 10, y: 20, xPercent: 2, yPercent: 6.7, label: "cat" };

void describe("parseAskParams", () => {
  void it("accepts well-typed parameters and drops nulls", () => {
    const params = parseAskParams({ image: "a.png", question: "What?", task: "point", documentUri: null, options: { maxNewTokens: 5 }, workDoneToken: 1, partialResultToken: "p" });
    assert.deepEqual(params, { image: "a.png", question: "What?", task: "point", options: { maxNewTokens: 5 }, workDoneToken: 1, partialResultToken: "p" });
  });

  void it("names the first wrong field", () => {
    badRequest(undefined, /needs an object parameter/);
    badRequest(["a.png"], /needs an object parameter/);
    badRequest({}, /needs 'image'/);
    badRequest({ image: 3 }, /needs 'image'/);
    badRequest({ image: "a", question: ["x"] }, /'question' must be a string/);
    badRequest({ image: "a", task: "dance" }, /'task' must be one of ask, point, count, caption, clock/);
    badRequest({ image: "a", documentUri: 5 }, /'documentUri'/);
    badRequest({ image: "a", timeoutMs: "1s" }, /'timeoutMs' must be a number/);
    badRequest({ image: "a", partialResultToken: {} }, /'partialResultToken'/);
    badRequest({ image: "a", options: [] }, /'options' must be an object/);
    badRequest({ image: "a", options: { topP: "high" } }, /options\.topP must be a number/);
  });
});

void describe("toResponseError", () => {
  void it("maps cancelled, bad_request and the rest to the LSP codes, keeping the host's code in data", () => {
    const cancelled = toResponseError(new HostError("cancelled", "The request was cancelled."));
    assert.equal(cancelled.code, -32800);
    assert.deepEqual(cancelled.data, { code: "cancelled" });
    assert.equal(toResponseError(new HostError("bad_request", "x")).code, -32602);
    for (const code of ["busy", "image_not_found", "outside_workspace", "no_model", "engine_failed"] as const) {
      const error = toResponseError(new HostError(code, `because ${code}`));
      assert.equal(error.code, -32803);
      assert.deepEqual(error.data, { code });
      assert.equal(error.message, `because ${code}`);
    }
    const bug = toResponseError(new TypeError("x is undefined"));
    assert.equal(bug.data?.code, "engine_failed");
    assert.match(bug.message, /x is undefined/);
  });
});

void describe("PartialResultStream", () => {
  void it("sends the first piece at once, coalesces the rest per interval, and flushes the remainder", async () => {
    const sent: MolmoAskPartialResult[] = [];
    const stream = new PartialResultStream((value) => sent.push(value), 30);
    stream.addText("Hel");
    assert.deepEqual(sent, [{ textDelta: "Hel" }], "the first token goes out at once");
    stream.addText("lo");
    stream.addPoints([POINT]);
    stream.addText(" wor");
    assert.equal(sent.length, 1, "later tokens wait for the interval");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(sent[1], { textDelta: "lo wor", points: [POINT] });
    stream.addText("ld");
    stream.flush();
    assert.deepEqual(sent[2], { textDelta: "ld" });
    stream.flush();
    assert.equal(sent.length, 3, "an empty flush sends nothing");
    assert.equal(sent.map((value) => value.textDelta).join(""), "Hello world");
  });

  void it("drops unsent pieces on dispose", async () => {
    const sent: MolmoAskPartialResult[] = [];
    const stream = new PartialResultStream((value) => sent.push(value), 10);
    stream.addText("a");
    stream.addText("b");
    stream.dispose();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(sent, [{ textDelta: "a" }]);
  });
});
