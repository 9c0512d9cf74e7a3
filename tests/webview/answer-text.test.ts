import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { answerSegments } from "../../webview/model/answer-text";

void describe("answerSegments", () => {
  void test("replaces point tags by their label and the numbers of their points", () => {
    const raw = 'Counting the <points x1="10.2" y1="60.4" x2="33.3" y2="58.9" alt="cars">cars</points> shows a total of 2. ' +
      'The <point x="63.5" y="42.0" alt="dog">dog</point> sits.';
    assert.deepEqual(answerSegments(raw, false), [
      { kind: "text", text: "Counting the " },
      { kind: "points", label: "cars", indices: [1, 2] },
      { kind: "text", text: " shows a total of 2. The " },
      { kind: "points", label: "dog", indices: [3] },
      { kind: "text", text: " sits." },
    ]);
  });

  void test("uses the alt text when a tag is empty, and decodes entities", () => {
    assert.deepEqual(answerSegments('<point x="1.0" y="2.0" alt="a &quot;b&quot;"></point>', false), [
      { kind: "points", label: 'a "b"', indices: [1] },
    ]);
  });

  void test("while streaming, holds back an unfinished tag", () => {
    assert.deepEqual(answerSegments('See <point x="1.0" y=', true), [{ kind: "text", text: "See " }]);
    assert.deepEqual(answerSegments('See <point x="1.0" y="2.0">do', true), [{ kind: "text", text: "See " }]);
    assert.deepEqual(answerSegments("See <poi", true), [{ kind: "text", text: "See " }]);
    assert.deepEqual(answerSegments("a <b is fine", true), [{ kind: "text", text: "a <b is fine" }]);
    // Finished, the same text is shown as it is: Molmo may end on a broken tag.
    assert.deepEqual(answerSegments("See <poi", false), [{ kind: "text", text: "See <poi" }]);
  });
});
