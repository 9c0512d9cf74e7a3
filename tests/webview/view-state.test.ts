import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { HostToViewMessage } from "../../webview/protocol";
import {
  annotatedPngName,
  applyHostMessage,
  canAsk,
  initialViewState,
  markCancelRequested,
  restoreViewState,
  MAX_SAVED_IMAGE_URI_LENGTH,
  startAsk,
  stateToSave,
} from "../../webview/model/view-state";
import type { ViewState } from "../../webview/model/view-state";
import { formatPixels, markerTooltip } from "../../webview/model/point-text";
import { samplePoint, sampleResult } from "./sample-messages";

const SIZE = { width: 100, height: 50 };
const IMAGE: HostToViewMessage = { type: "showImage", uri: "https://r/a.png", fileName: "a.png" };

function apply(state: ViewState, ...messages: HostToViewMessage[]): ViewState {
  return messages.reduce((current, message) => {
    const { state: next, ignored } = applyHostMessage(current, message);
    assert.equal(ignored, undefined, `${message.type} was ignored: ${ignored}`);
    return next;
  }, state);
}

void describe("view state", () => {
  void test("a question runs from ask to done; the final result replaces what streamed", () => {
    let state = apply(initialViewState(), IMAGE);
    assert.equal(canAsk(state), false, "an empty question cannot be asked");
    state = { ...state, draft: { task: "point", question: "  dogs " } };
    assert.equal(canAsk(state), true);
    state = startAsk(state, "v1");
    assert.deepEqual([state.answer?.phase, state.answer?.question, canAsk(state)], ["running", "dogs", false]);
    const first = samplePoint(1, 10, 20, "dog", SIZE);
    state = apply(
      state,
      { type: "answerStarted", requestId: "v1", task: "point", question: "dogs" },
      { type: "answerDelta", requestId: "v1", textDelta: "a " },
      { type: "answerDelta", requestId: "v1", textDelta: "b", points: [first] },
      { type: "answerDelta", requestId: "v1", textDelta: "", points: [{ ...first, label: "dog!" }] },
    );
    assert.equal(state.answer?.text, "a b");
    assert.deepEqual(state.answer?.points.map((point) => point.label), ["dog!"], "a repeated index replaces its point");
    const points = [samplePoint(2, 50, 50, "cat", SIZE), first];
    state = apply(state, { type: "answerDone", requestId: "v1", result: sampleResult("final", points, SIZE) });
    assert.equal(state.answer?.phase, "done");
    assert.equal(state.answer?.text, "final");
    assert.deepEqual(state.answer?.points.map((point) => point.index), [1, 2], "points are in index order");
    assert.equal(state.answer?.summary, "32 tokens in 1.2 s · tiny-molmo on cpu");
    assert.equal(canAsk(state), true);
  });

  void test("caption and clock need no question", () => {
    const state = apply({ ...initialViewState(), draft: { task: "caption", question: "ignored" } }, IMAGE);
    assert.equal(canAsk(state), true);
    assert.equal(startAsk(state, "v2").answer?.question, "");
  });

  void test("messages of another question are ignored with a reason", () => {
    const state = startAsk(apply({ ...initialViewState(), draft: { task: "ask", question: "q" } }, IMAGE), "v1");
    for (const message of [
      { type: "answerDelta", requestId: "v0", textDelta: "old" },
      { type: "answerFailed", requestId: "v0", message: "m", code: "busy" },
      { type: "answerCancelled", requestId: "v0" },
      { type: "answerDone", requestId: "v0", result: sampleResult("old", [], SIZE) },
    ] as HostToViewMessage[]) {
      const { state: next, ignored } = applyHostMessage(state, message);
      assert.equal(next, state);
      assert.match(ignored ?? "", /v0/);
    }
    const done = apply(state, { type: "answerDone", requestId: "v1", result: sampleResult("x", [], SIZE) });
    assert.match(applyHostMessage(done, { type: "answerDelta", requestId: "v1", textDelta: "late" }).ignored ?? "", /already finished/);
  });

  void test("cancel is requested once and confirmed by the host", () => {
    let state = startAsk(apply({ ...initialViewState(), draft: { task: "ask", question: "q" } }, IMAGE), "v1");
    state = markCancelRequested(state);
    assert.equal(state.answer?.cancelRequested, true);
    state = apply(state, { type: "answerCancelled", requestId: "v1" });
    assert.deepEqual([state.answer?.phase, state.answer?.cancelRequested], ["cancelled", false]);
    assert.equal(markCancelRequested(state), state, "nothing to cancel any more");
  });

  void test("the same image keeps the answer, another image clears it", () => {
    const done = apply(initialViewState(), IMAGE, { type: "answerDone", requestId: "h1", result: sampleResult("x", [samplePoint(1, 1, 1, "a", SIZE)], SIZE) });
    assert.equal(apply(done, IMAGE).answer?.text, "x");
    assert.equal(apply(done, { ...IMAGE, uri: "https://r/b.png" }).answer, undefined);
  });

  void test("a saved state is restored; a foreign or running one is handled", () => {
    const done = apply(initialViewState(), IMAGE, { type: "answerDone", requestId: "h1", result: sampleResult("x", [], SIZE) });
    assert.deepEqual(restoreViewState(JSON.parse(JSON.stringify(done))), done);
    assert.deepEqual(restoreViewState(undefined), initialViewState());
    assert.deepEqual(restoreViewState({ version: 0, draft: {} }), initialViewState());
    assert.deepEqual(restoreViewState({ version: 1, draft: { task: "fly", question: "" } }), initialViewState());
    const running = startAsk({ ...done, draft: { task: "ask", question: "q" } }, "v9");
    const restored = restoreViewState(JSON.parse(JSON.stringify(running)));
    assert.deepEqual([restored.answer?.phase, restored.answer?.error?.code], ["failed", "interrupted"]);
    // The host may still deliver that answer: it is taken.
    assert.equal(apply(restored, { type: "answerDone", requestId: "v9", result: sampleResult("late", [], SIZE) }).answer?.text, "late");
  });

  void test("a huge data: image is not kept in the saved state, the answer is", () => {
    const small = apply(initialViewState(), IMAGE, { type: "answerDone", requestId: "h1", result: sampleResult("x", [], SIZE) });
    assert.equal(stateToSave(small), small);
    const pasted = apply(
      small,
      { type: "showImage", uri: `data:image/png;base64,${"A".repeat(MAX_SAVED_IMAGE_URI_LENGTH)}`, fileName: "p.png" },
      { type: "answerDone", requestId: "h2", result: sampleResult("y", [], SIZE) },
    );
    const saved = stateToSave(pasted);
    assert.equal(saved.image, undefined);
    assert.equal(saved.answer?.text, "y");
  });

  void test("the annotated PNG's name comes from the image's", () => {
    assert.equal(annotatedPngName("shots/screen.final.jpg"), "screen.final-molmo.png");
    assert.equal(annotatedPngName("C:\\x\\chart.png"), "chart-molmo.png");
    assert.equal(annotatedPngName(""), "image-molmo.png");
  });
});

void describe("point text", () => {
  const point = samplePoint(3, 50, 50, "save", SIZE);
  void test("the tooltip shows the label, and the alt text when it differs", () => {
    assert.equal(markerTooltip(point), "save");
    assert.equal(markerTooltip({ ...point, alt: "the save button of the dialog" }), "save — the save button of the dialog");
    assert.equal(markerTooltip({ ...point, label: " ", alt: "dialog" }), "dialog");
    assert.equal(markerTooltip({ ...point, label: "", alt: undefined }), "Point 3");
  });
  void test("pixels are shown whole", () => {
    assert.equal(formatPixels({ ...point, x: 12.5, y: 99.49 }), "13, 99");
  });
});
