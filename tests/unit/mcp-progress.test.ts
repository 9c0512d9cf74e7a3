/**
 * Progress of a tool call: nothing without a progress token, stages and the growing answer with one, text
 * messages throttled, nothing after the call finished.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProgressReporter, TEXT_INTERVAL_MS, type ToolExtra } from "../../mcp/progress";
import { recordingLogger } from "../helpers/recording-logger";

function fakeExtra(progressToken: string | undefined) {
  const sent: { progress: number; message?: string; progressToken: string | number }[] = [];
  const extra = {
    _meta: progressToken !== undefined ? { progressToken } : {},
    sendNotification: (notification: { method: string; params: { progress: number; message?: string; progressToken: string | number } }) => {
      assert.equal(notification.method, "notifications/progress");
      sent.push(notification.params);
      return Promise.resolve();
    },
  } as unknown as ToolExtra;
  return { extra, sent };
}

void describe("ProgressReporter", () => {
  void it("sends nothing when the client sent no progress token", () => {
    const { extra, sent } = fakeExtra(undefined);
    const reporter = new ProgressReporter(extra, recordingLogger());
    assert.equal(reporter.enabled, false);
    reporter.stage({ kind: "generating" });
    reporter.textDelta("hello");
    assert.equal(sent.length, 0);
  });

  void it("reports stages and the answer so far, throttling text, with increasing progress", async () => {
    const { extra, sent } = fakeExtra("tok");
    const reporter = new ProgressReporter(extra, recordingLogger());
    reporter.stage({ kind: "queued", position: 2 });
    reporter.stage({ kind: "loading", model: "/models/molmo" });
    reporter.stage({ kind: "generating" });
    reporter.textDelta("The ");
    reporter.textDelta("cat ");
    await new Promise((resolve) => setTimeout(resolve, TEXT_INTERVAL_MS + 20));
    reporter.textDelta("sits.");
    reporter.finish();
    reporter.textDelta(" More.");
    reporter.stage({ kind: "generating" });
    assert.deepEqual(
      sent.map((params) => params.message),
      ["Waiting for Molmo: 2 request(s) ahead.", "Loading the Molmo model /models/molmo.", "Molmo is looking at the image.", "The ", "The cat sits."],
    );
    assert.deepEqual(sent.map((params) => params.progress), [1, 2, 3, 4, 5]);
    assert.ok(sent.every((params) => params.progressToken === "tok"));
  });

  void it("logs, and does not throw, when a notification cannot be sent", async () => {
    const logger = recordingLogger();
    const extra = { _meta: { progressToken: 1 }, sendNotification: () => Promise.reject(new Error("connection closed")) } as unknown as ToolExtra;
    const reporter = new ProgressReporter(extra, logger);
    reporter.stage({ kind: "generating" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(logger.at("debug")[0] ?? "", /connection closed/);
  });
});
